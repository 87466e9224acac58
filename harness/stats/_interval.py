"""The result type shared by every interval estimator in `harness.stats`."""

from __future__ import annotations

import math

from pydantic import BaseModel, Field, model_validator


class Interval(BaseModel, frozen=True, extra="forbid"):
    """A point estimate with a two-sided interval and the recipe that produced it."""

    estimate: float
    """The statistic on the original data (or the median over seeds for a seed spread)."""
    low: float
    """Lower bound of the interval."""
    high: float
    """Upper bound of the interval."""
    method: str
    """How the interval was built, e.g. "bca", "percentile", "stratified-bca", "wilson", "seed-percentile"."""
    level: float = Field(gt=0.0, lt=1.0)
    """Nominal two-sided coverage, e.g. 0.95."""
    n: int = Field(ge=1)
    """Number of observations behind the estimate (items, trials, or seeds)."""
    n_resamples: int | None = None
    """Bootstrap resamples drawn; None for closed-form or seed-spread intervals."""
    seed: int | None = None
    """Seed of the `numpy.random.Generator` that drew the resamples; None if nothing was random."""
    note: str = ""
    """Anything a reader must know, e.g. that BCa failed and the percentile interval was used instead."""

    @model_validator(mode="after")
    def _check_bounds(self) -> Interval:
        values = (self.estimate, self.low, self.high)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"interval values must be finite, got estimate/low/high = {values}")
        if self.low > self.high:
            raise ValueError(f"interval low {self.low} exceeds high {self.high}")
        return self

    @property
    def width(self) -> float:
        """Distance between the bounds, `high - low`."""
        return self.high - self.low

    def contains(self, x: float) -> bool:
        """Whether `x` lies in the closed interval `[low, high]`.

        Args:
            x: The value to test, e.g. a null value or a known true parameter.

        Returns:
            True when `low <= x <= high`.
        """
        return self.low <= x <= self.high
