"""Error types of the harness: every message says what is wrong, where, and the fix."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class for errors the harness raises on bad input or infrastructure faults."""


class SpecError(HarnessError):
    """A claim spec is malformed: names the file, the field and the fix."""


class DataError(HarnessError):
    """A data file is missing, empty or malformed."""


class ModelLoadError(HarnessError):
    """A model could not be resolved or loaded."""


class StatsError(HarnessError):
    """A statistic cannot be computed honestly (too little data, one class, NaN)."""


class JudgeError(HarnessError):
    """An LLM judge could not grade an item: names the endpoint, rubric, item, last error and the fix."""


class JudgeVersionError(HarnessError):
    """Records graded by different judges (or judge versions) were about to be pooled."""
