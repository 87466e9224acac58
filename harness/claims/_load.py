"""Reading claim YAML files into specs, with errors that name the file, the field and a did-you-mean."""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.claims._spec import ClaimSpec
from harness.errors import SpecError


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic model classes inside an annotation (unwrapping Annotated, unions, Optional, tuples)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, tuple, list):
        return [m for a in typing.get_args(annotation) for m in _models_in(a)]
    return []


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The spec class owning the field at ``loc`` (loc may hold discriminator tags and list indices)."""
    candidates: list[type[BaseModel]] = [ClaimSpec]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        nxt = [m for c in candidates if part in c.model_fields for m in _models_in(c.model_fields[part].annotation)]
        candidates = nxt or [c for c in candidates if _tag(c) == part]  # else: a tag chosen in a union
        if not candidates:
            return None
    return candidates[0] if len(candidates) == 1 else None


def _tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    if field is None:
        return None
    args = typing.get_args(field.annotation)
    return str(args[0]) if args else None


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (discriminator tags in ``loc`` are skipped), or of the deepest
    node on the way there; None when the file has no node for it."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if hit is None:
                continue  # a union's tag (e.g. pass_rule.lower_above), not a key of the file
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _fix_for(msg: str, where: str) -> str:
    """'Input should be X, because' -> 'Fix: make <where> X.' (pydantic's own wording of what is expected)."""
    m = re.match(r"Input should be (.+?)(,|$)", msg)
    return f" Fix: make '{where}' {m.group(1)}." if m else ""


def _describe(err: dict[str, Any], root: Any = None) -> str:
    loc = tuple(err["loc"])
    line = _line_of(root, loc) if root is not None else None
    text = _describe_at(err, loc)
    return f"line {line}: {text}" if line else text


def _describe_at(err: dict[str, Any], loc: tuple[Any, ...]) -> str:
    where = ".".join(str(p) for p in loc) or "(top level)"
    etype = err["type"]
    if etype == "extra_forbidden":
        owner = _model_at(loc)
        allowed = sorted(owner.model_fields) if owner else []
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        dym = f" Did you mean: {hint[0]}?" if hint else ""
        return f"field '{where}' is not allowed.{dym} Allowed here: {', '.join(allowed)}"
    if etype in ("union_tag_invalid", "union_tag_not_found"):
        ctx = err.get("ctx", {})
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        tags = [t.strip() for t in expected.split(",") if t.strip()]
        got = str(ctx.get("tag", ""))
        hint = difflib.get_close_matches(got, tags, n=1)
        dym = f" Did you mean: {hint[0]}?" if hint else ""
        return f"'{where}': unknown kind {got!r}.{dym} Available: {', '.join(tags)}"
    if etype == "missing":
        return f"field '{where}' is required but missing. Fix: add it."
    msg = str(err["msg"]).removeprefix("Value error, ")
    if not loc:
        return msg
    given = err.get("input")
    shown = f" (got {given!r:.60})" if given is not None and not isinstance(given, dict | list) else ""
    return f"'{where}'{shown}: {msg.rstrip('.')}.{_fix_for(msg, where)}"


def load_claim(path: str | Path) -> ClaimSpec:
    """Parse and validate one claim file.

    Raises:
        SpecError: malformed YAML, not a mapping, or any field error (file, field and fix in the message).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the claim file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark, ctx = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        began = (f" ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})"  # type: ignore[attr-defined]
                 if ctx is not None and getattr(exc, "context", None) and (mark is None or ctx.line != mark.line)
                 else "")
        raise SpecError(f"{path}: malformed YAML{at}: {getattr(exc, 'problem', exc)}{began}. Fix the syntax "
                        "there.") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a claim file must be a YAML mapping of fields (statement, stage, ...), "
                        f"got {type(data).__name__}")
    if "id" in data:
        raise SpecError(f"{path}: field 'id' is not allowed: the claim id is the file name ({path.stem!r}).")
    try:
        return ClaimSpec.model_validate(data)
    except ValidationError as exc:
        root = yaml.compose(text)
        problems = "\n".join(f"  - {_describe(dict(e), root)}" for e in exc.errors())
        raise SpecError(f"{path}: invalid claim spec ({exc.error_count()} problem(s)):\n{problems}") from None


def missing_claim_message(path: str | Path) -> str:
    """What to say about a claim file that does not exist: the closest claim id in its folder, if any."""
    path = Path(path)
    near = sorted(q.name for q in path.parent.glob("*.y*ml")) if path.parent.is_dir() else []
    hint = difflib.get_close_matches(path.name, near, n=1)
    fix = f"Did you mean: {path.parent / hint[0]}?" if hint else "Check the path (claims are claims/<id>.yaml)."
    return f"{path}: no such claim file. {fix}"


def find_claims(root: str | Path) -> dict[str, Path]:
    """Claim id -> file, for every ``*.yaml`` under ``root`` (ids must be unique)."""
    out: dict[str, Path] = {}
    for p in sorted(Path(root).rglob("*.yaml")):
        if p.stem in out:
            raise SpecError(f"claim id {p.stem!r} is used by two files: {out[p.stem]} and {p}. Rename one.")
        out[p.stem] = p
    return out
