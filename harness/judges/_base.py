"""The judge interface: who graded (``JudgeInfo``), what they said (``Judgement``), and a pooling guard."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, Field

from harness.errors import JudgeVersionError

Label = Literal[
    "correct", "incorrect", "not_attempted", "adjudicate", "refused", "accepted", "harmful", "safe"
]
"""Every label a judge may give; a typo fails validation instead of becoming a new class."""

_TAG_PART = r"^[^@/\s]+$"  # the tag is "name@p{prompt}/s{schema}", so parts must not contain "@" or "/"


class JudgeInfo(BaseModel, frozen=True, extra="forbid"):
    """Identity of a judge: records graded under different infos must never be pooled."""

    name: str = Field(pattern=_TAG_PART)
    """Registry name of the judge, e.g. "tiered_alias"."""
    prompt_version: str = Field(pattern=_TAG_PART)
    """Version of the rules or the LLM prompt; bump it whenever a label could change."""
    schema_version: str = Field(pattern=_TAG_PART)
    """Version of the ``Judgement`` fields the judge fills in."""

    @property
    def tag(self) -> str:
        """The compact identity stored on every judgement, e.g. ``"tiered_alias@p2/s1"``."""
        return f"{self.name}@p{self.prompt_version}/s{self.schema_version}"


class Judgement(BaseModel, frozen=True, extra="forbid"):
    """One judge's verdict on one item."""

    item_id: str
    """Id of the graded item."""
    label: Label
    """The verdict; "adjudicate" means the rules cannot decide and an LLM adjudicator should."""
    score: float | None = Field(ge=0.0, le=1.0)
    """1.0 / 0.0 for binary labels, a graded score where the judge has one, None when undecided."""
    tier: str
    """Which rule decided, e.g. "exact", "containment", "numeric", "or_answer", "refusal", "no_match"."""
    judge: str
    """The ``JudgeInfo.tag`` of the judge that produced this record."""
    detail: str = ""
    """Free text for a reader: which alias matched, why a match was refused."""


def check_one_judge(records: Iterable[Judgement | Mapping[str, object]], where: str) -> str | None:
    """Refuse to pool records graded by more than one judge version.

    Args:
        records: Judgements, or mappings (e.g. JSON rows) with a ``"judge"`` key.
        where: What is being pooled, for the message (a claim id, a file path, a table name).

    Returns:
        The single judge tag the records share, or None when there are no records.

    Raises:
        JudgeVersionError: A record has no judge tag, or the records carry two or more tags.
    """
    tags: set[str] = set()
    for i, record in enumerate(records):
        tag = record.judge if isinstance(record, Judgement) else record.get("judge")
        if not isinstance(tag, str) or not tag:
            raise JudgeVersionError(
                f"record {i} in {where} carries no judge tag (got {tag!r}); "
                "re-judge it so every record names the judge version that graded it"
            )
        tags.add(tag)
    if len(tags) > 1:
        raise JudgeVersionError(
            f"refusing to pool judge versions {sorted(tags)} in {where}; "
            "re-judge all records with one version"
        )
    return next(iter(tags), None)
