"""Row-level evidence: one JSONL row per item and condition, the only input of a claim's assertion stage.

A live run writes its rows (``<results>/<claim>.rows.jsonl`` and the store); a replay reads them back, from a
file made elsewhere (a GPU run of a bigger model) or from the store, and asserts the claim without a model.
The file's first line is a header ``{"header": {...}}`` (format, version, what made the rows); every other
line is a row::

    {"id": "q17", "condition": "treatment", "alpha": 2.0, "value": 0.31}
    {"id": "q17", "condition": "detector", "value": 1.73, "label": 1}

``condition`` names the arm: ``treatment``, ``control/<kind>/<seed>``, ``externality/<benchmark>/<metric>``
(intervention claims), ``detector``, ``baseline``, ``refit/<seed>``, ``control/shuffled_labels/<seed>``
(detection claims), ``judge/<i>`` (judged claims), ``judge/<i>/<arm>`` (an intervention arm graded by panel judge
i). ``value`` is the outcome or score, ``label`` the gold class where the estimand needs one, ``judge`` the
version tag of the judge that graded the row, ``cluster`` what the row shares with others (the question of
several answers), which a bootstrap resamples together.
Pure numpy: the plugin can import this without torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import DataError

ROWS_FORMAT = "harness-rows"
ROWS_VERSION = 1
_FIELDS = {"id", "condition", "alpha", "value", "label", "judge", "cluster"}


@dataclass
class Evidence:
    """Rows in file order plus the header describing what made them."""

    rows: list[dict[str, Any]]
    header: dict[str, Any] = field(default_factory=dict)
    source: str = "live run"
    """Where the rows came from (a file path, the store key or 'live run'), for error messages."""

    def add(self, condition: str, ids: Iterable[str], values: Iterable[float], *, alpha: float | None = None,
            labels: Iterable[int] | None = None, judge: str | None = None,
            clusters: Iterable[str] | None = None) -> None:
        """Append one row per item of one condition (and alpha), stamped with the judge's version if any."""
        ids, vals = list(ids), [float(v) for v in values]
        labs = None if labels is None else [int(v) for v in labels]
        clus = None if clusters is None else [str(c) for c in clusters]
        if len(ids) != len(vals) or any(x is not None and len(x) != len(ids) for x in (labs, clus)):
            raise AssertionError(f"condition {condition}: {len(ids)} ids but {len(vals)} values")
        for k, item_id in enumerate(ids):
            row: dict[str, Any] = {"id": str(item_id), "condition": condition}
            if alpha is not None:
                row["alpha"] = float(alpha)
            row["value"] = vals[k]
            if labs is not None:
                row["label"] = labs[k]
            if judge is not None:
                row["judge"] = judge
            if clus is not None:
                row["cluster"] = clus[k]
            self.rows.append(row)

    def clusters(self, condition: str) -> list[str] | None:
        """Cluster ids of a condition's rows (file order), or None when its rows carry none.

        Raises:
            DataError: some rows have a cluster and some do not.
        """
        rows = self._rows_of(condition)
        has = ["cluster" in r for r in rows]
        if any(has) and not all(has):
            raise DataError(f"{self.source}: condition {condition!r}: some rows have a cluster and some do not. "
                            "Fix: give every row its cluster (e.g. the question id) or none.")
        return [r["cluster"] for r in rows] if all(has) else None

    def select(self, prefix: str) -> Evidence:
        """The rows of conditions under ``prefix`` (e.g. ``judge/1/``) with the prefix removed: one panel
        judge's arms, for the single-judge assertion code."""
        rows = [{**r, "condition": r["condition"][len(prefix):]} for r in self.rows
                if r["condition"].startswith(prefix)]
        if not rows:
            raise DataError(f"{self.source}: no rows under {prefix!r} (conditions present: "
                            f"{', '.join(self.conditions()[:12]) or 'none'}). Fix: write that judge's rows.")
        return Evidence(rows=rows, header=self.header, source=f"{self.source} [{prefix.rstrip('/')}]")

    def conditions(self) -> list[str]:
        return list(dict.fromkeys(r["condition"] for r in self.rows))

    def column(self, condition: str) -> tuple[list[str], np.ndarray, np.ndarray | None]:
        """Ids (file order), values and labels (None when the rows carry none) of a condition without alphas."""
        rows = self._rows_of(condition)
        if any("alpha" in r for r in rows):
            raise DataError(f"{self.source}: condition {condition!r} has alpha values but this estimand reads "
                            "one value per item. Fix: drop 'alpha' from those rows.")
        return _ids_values_labels(rows, condition, self.source)

    def matrix(self, condition: str, alphas: tuple[float, ...],
               ids: list[str] | None = None) -> tuple[list[str], np.ndarray]:
        """``[n_items, n_alphas]`` outcomes of a condition; every item needs every alpha (paired).

        Args:
            condition: The arm.
            alphas: Column order.
            ids: Row order (another arm's ids, so the two are paired); default: first appearance in the file.
        """
        rows = self._rows_of(condition)
        by_alpha: dict[float, dict[str, float]] = {}
        for r in rows:
            if "alpha" not in r:
                raise DataError(f"{self.source}: a row of condition {condition!r} (id {r['id']!r}) has no alpha. "
                                "Fix: give every row of an intervention arm its alpha.")
            by_alpha.setdefault(float(r["alpha"]), {})[r["id"]] = float(r["value"])
        missing = [a for a in alphas if a not in by_alpha]
        if missing:
            raise DataError(f"{self.source}: condition {condition!r} has no rows at alpha {missing} (it has "
                            f"{sorted(by_alpha)}). Fix: write rows for every alpha of the claim's grid.")
        order = ids if ids is not None else list(dict.fromkeys(r["id"] for r in rows))
        want = set(order)
        for a in alphas:
            have = set(by_alpha[a])
            if have != want:
                _unpaired(self.source, condition, a, want, have, "the first alpha" if ids is None else "the treatment")
        return order, np.array([[by_alpha[a][i] for a in alphas] for i in order], dtype=np.float64)

    def _rows_of(self, condition: str) -> list[dict[str, Any]]:
        rows = [r for r in self.rows if r["condition"] == condition]
        if not rows:
            have = ", ".join(self.conditions()[:12]) or "none"
            raise DataError(f"{self.source}: no rows for condition {condition!r}, which this claim needs "
                            f"(conditions present: {have}). Fix: write that arm's rows or change the claim.")
        return rows


def _unpaired(source: str, condition: str, alpha: float | None, want: set[str], have: set[str], ref: str) -> None:
    extra, lacking = sorted(have - want), sorted(want - have)
    at = "" if alpha is None else f" at alpha {alpha}"
    raise DataError(f"{source}: condition {condition!r}{at} is unpaired with {ref}: "
                    f"{len(lacking)} item(s) missing (e.g. {lacking[:3]}), {len(extra)} extra (e.g. {extra[:3]}). "
                    "Fix: every arm and alpha must score the same items.")


def _ids_values_labels(rows: list[dict[str, Any]], condition: str,
                       source: str) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    ids = [r["id"] for r in rows]
    values = np.array([float(r["value"]) for r in rows], dtype=np.float64)
    has = ["label" in r for r in rows]
    if any(has) and not all(has):
        raise DataError(f"{source}: condition {condition!r}: some rows have a label and some do not. "
                        "Fix: label every row or none.")
    labels = np.array([int(r["label"]) for r in rows], dtype=np.int64) if all(has) else None
    return ids, values, labels


def paired_column(ev: Evidence, condition: str, ids: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """A condition's values (and labels) in the order of ``ids``; the item sets must be equal."""
    got_ids, values, labels = ev.column(condition)
    if set(got_ids) != set(ids):
        _unpaired(ev.source, condition, None, set(ids), set(got_ids), "the detector rows")
    pos = {i: k for k, i in enumerate(got_ids)}
    idx = np.array([pos[i] for i in ids], dtype=np.int64)
    return values[idx], None if labels is None else labels[idx]


def rows_text(ev: Evidence) -> str:
    """The JSONL text of the evidence: header line, then one row per line (floats round-trip exactly)."""
    header = {"format": ROWS_FORMAT, "version": ROWS_VERSION, **ev.header}
    lines = [json.dumps({"header": header}, sort_keys=True)]
    lines += [json.dumps(r, sort_keys=True, allow_nan=False) for r in ev.rows]
    return "\n".join(lines) + "\n"


def write_rows(path: Path, ev: Evidence) -> None:
    """Write the evidence as JSONL, atomically."""
    from harness.store import atomic_write_text

    atomic_write_text(path, rows_text(ev))


def parse_rows(text: str, source: str) -> Evidence:
    """Parse and validate JSONL rows (the header line is optional for files made by other tools).

    Raises:
        DataError: bad JSON, a row without id/condition/value, a wrong type, a non-finite value, an unknown
            field, or a duplicate (id, condition, alpha); the message names the line and the fix.
    """
    header: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, float | None], int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{source}:{n}: not JSON ({exc.msg}). Fix: one JSON object per line.") from None
        if not isinstance(obj, dict):
            raise DataError(f"{source}:{n}: a row must be a JSON object, got {type(obj).__name__}")
        if "header" in obj:
            if rows or header:
                raise DataError(f"{source}:{n}: a header line may only be the first line")
            header = _check_header(obj["header"], source)
            continue
        row = _check_row(obj, source, n)
        key = (row["id"], row["condition"], row.get("alpha"))
        if key in seen:
            raise DataError(f"{source}:{n}: duplicate row for id {row['id']!r}, condition {row['condition']!r}"
                            f"{'' if row.get('alpha') is None else ', alpha ' + str(row['alpha'])} (first on line "
                            f"{seen[key]}). Fix: one row per item, condition and alpha.")
        seen[key] = n
        rows.append(row)
    if not rows:
        raise DataError(f"{source}: no rows. Fix: point the claim at a non-empty row file.")
    return Evidence(rows=rows, header=header, source=source)


def read_rows(path: Path) -> Evidence:
    """Read a row file (see :func:`parse_rows`)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataError(f"row file {path} cannot be read ({exc.strerror}). Fix: check replay.path; a live run "
                        "writes <results>/<claim>.rows.jsonl.") from None
    return parse_rows(text, str(path))


def _check_header(header: Any, source: str) -> dict[str, Any]:
    if not isinstance(header, dict):
        raise DataError(f"{source}:1: header must be an object")
    if header.get("format", ROWS_FORMAT) != ROWS_FORMAT or header.get("version", ROWS_VERSION) != ROWS_VERSION:
        raise DataError(f"{source}:1: header says format {header.get('format')!r} version {header.get('version')!r}; "
                        f"this harness reads {ROWS_FORMAT!r} version {ROWS_VERSION}")
    return {k: v for k, v in header.items() if k not in ("format", "version")}


def _check_row(obj: dict[str, Any], source: str, n: int) -> dict[str, Any]:
    unknown = set(obj) - _FIELDS
    if unknown:
        raise DataError(f"{source}:{n}: unknown field(s) {sorted(unknown)}; a row has {sorted(_FIELDS)}")
    for name in ("id", "condition", "value"):
        if name not in obj:
            raise DataError(f"{source}:{n}: row has no {name!r}. Fix: every row needs id, condition and value.")
    if not isinstance(obj["id"], str | int) or isinstance(obj["id"], bool):
        raise DataError(f"{source}:{n}: id must be a string, got {obj['id']!r}")
    if not isinstance(obj["condition"], str) or not obj["condition"]:
        raise DataError(f"{source}:{n}: condition must be a non-empty string, got {obj['condition']!r}")
    row: dict[str, Any] = {"id": str(obj["id"]), "condition": obj["condition"]}
    for name in ("alpha", "value"):
        if name in obj and obj[name] is not None:
            v = obj[name]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise DataError(f"{source}:{n}: {name} must be a finite number, got {v!r}")
            row[name] = float(v)
    if "value" not in row:
        raise DataError(f"{source}:{n}: value is null. Fix: drop the row or give it a number.")
    if "label" in obj and obj["label"] is not None:
        if obj["label"] not in (0, 1) or isinstance(obj["label"], float):
            raise DataError(f"{source}:{n}: label must be 0 or 1, got {obj['label']!r}")
        row["label"] = int(obj["label"])
    for name in ("judge", "cluster"):
        if name in obj:
            if not isinstance(obj[name], str | int) or isinstance(obj[name], bool) or obj[name] == "":
                raise DataError(f"{source}:{n}: {name} must be a non-empty string, got {obj[name]!r}")
            row[name] = str(obj[name])
    return row
