"""Canonical JSON and content fingerprints: one byte string per value, whatever the dict order."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
from pydantic import BaseModel

__all__ = ["canonical_json", "fingerprint", "to_jsonable"]


def to_jsonable(obj: Any, where: str = "$") -> Any:
    """Convert ``obj`` to plain JSON types (dict with str keys, list, str, int, float, bool, None).

    Pydantic models go through ``model_dump(mode="json")``, dataclasses through ``dataclasses.asdict``,
    tuples become lists, paths their POSIX string, enums their value, numpy scalars and arrays their
    Python equivalents, and sets a list sorted by canonical form.

    Args:
        obj: The value to convert.
        where: JSON-path-like location of ``obj``, used in error messages.

    Returns:
        A structure of plain JSON types.

    Raises:
        TypeError: A value (or dict key) has a type JSON cannot represent; the message gives its location.
        ValueError: A float is NaN or infinite (not JSON), or two dict keys collide after conversion to str.
    """
    # bool before int: bool is an int subclass, and must stay true/false.
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(
                f"canonical_json: non-finite float {obj!r} at {where}; JSON has no NaN/Infinity. "
                "Replace it with None or a string before storing or fingerprinting it."
            )
        return float(obj)  # a float subclass (np.float64) becomes a plain float
    if isinstance(obj, BaseModel):
        return to_jsonable(obj.model_dump(mode="json"), where)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj), where)
    if isinstance(obj, Mapping):
        return _mapping_to_jsonable(obj, where)
    if isinstance(obj, list | tuple):
        return [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(obj)]
    if isinstance(obj, set | frozenset):
        items = [to_jsonable(item, f"{where}{{}}") for item in obj]
        return sorted(items, key=canonical_json)
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value, where)
    if isinstance(obj, np.generic | np.ndarray):
        if isinstance(obj, np.ndarray) and obj.dtype == object:
            raise TypeError(f"canonical_json: object-dtype array at {where}; convert it to a numeric array")
        return to_jsonable(obj.tolist(), where)
    raise TypeError(
        f"canonical_json: cannot encode {type(obj).__name__} at {where}; convert it to dict/list/str/"
        "number/bool/None, a pydantic model or a dataclass first"
    )


def _mapping_to_jsonable(obj: Mapping[Any, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        # int keys are allowed (layer -> value tables) and become strings, as json.dumps would do.
        if isinstance(key, str):
            skey = key
        elif isinstance(key, int) and not isinstance(key, bool):
            skey = str(key)
        else:
            raise TypeError(
                f"canonical_json: dict key {key!r} of type {type(key).__name__} at {where}; "
                "use str (or int) keys"
            )
        if skey in out:
            raise ValueError(
                f"canonical_json: dict keys {key!r} and {skey!r} collide at {where} once both are strings"
            )
        out[skey] = to_jsonable(value, f"{where}.{skey}")
    return out


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` to canonical JSON: sorted keys, no whitespace, ASCII only.

    Two values that are equal as JSON give the same string, whatever their dict insertion order. Floats
    use Python's shortest round-trip ``repr``, so ``0.1`` is always ``0.1``; ``1`` and ``1.0`` stay
    distinct. See :func:`to_jsonable` for the types accepted.

    Args:
        obj: The value to serialise.

    Returns:
        The canonical JSON text.

    Raises:
        TypeError: A value cannot be represented in JSON.
        ValueError: A float is NaN or infinite.
    """
    return json.dumps(
        to_jsonable(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def fingerprint(obj: Any) -> str:
    """Return the SHA-256 hex digest of :func:`canonical_json` of ``obj``.

    Args:
        obj: The value to fingerprint.

    Returns:
        64 lowercase hex characters.
    """
    return hashlib.sha256(canonical_json(obj).encode("ascii")).hexdigest()
