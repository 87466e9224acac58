"""Paired statistics for intervention claims: dose-response slopes, deltas, slope-vs-control comparisons,
sign-flip permutation tests, McNemar, and equivalence (TOST) tests. Every comparison is paired on item ids.

Shapes: a dose-response run is `Y[n_items, n_alphas]` at `alphas[n_alphas]`; controls are
`C[n_seeds, n_items, n_alphas]` on the same items in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy.special import ndtr, ndtri
from scipy.stats import binomtest

from harness.errors import StatsError
from harness.stats._auroc import auroc_from_classes
from harness.stats._binomial import wilson_interval
from harness.stats._bootstrap import BootstrapMethod, bootstrap_ci, paired_difference_ci
from harness.stats._interval import Interval
from harness.stats._validate import (
    as_binary,
    as_finite_1d,
    check_level,
    check_resampling,
    check_same_length,
    class_indices,
)

Alternative = Literal["greater", "less", "two-sided"]
DeltaMethod = Literal["bca", "percentile", "newcombe"]

MIN_ITEMS = 5
"""Fewest items an interval or test accepts; below this a paired statistic says nothing."""
MIN_DISCORDANT_BOOTSTRAP = 20
"""Fewest discordant items (0/1 outcome changed) for which `delta_ci` bootstraps a paired 0/1 difference."""
EXACT_SIGN_FLIP_MAX = 20
"""Up to this many items the sign-flip test enumerates all 2**n sign vectors exactly."""
_BLOCK = 512  # resamples / permutations built at once, bounding memory at _BLOCK x n_items floats


class _Result(BaseModel, frozen=True, extra="forbid"):
    """Base of the result models: frozen, strict, JSON-serialisable."""

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON types (nested intervals become dicts)."""
        return self.model_dump(mode="json")


# --- validation -----------------------------------------------------------------------------------


def check_alternative(alternative: str) -> None:
    """Check `alternative` is one of "greater", "less", "two-sided"."""
    if alternative not in ("greater", "less", "two-sided"):
        raise StatsError(
            f"alternative={alternative!r} is not supported; use 'greater', 'less' or 'two-sided'"
        )


def check_alphas(alphas: Any) -> np.ndarray:
    """Intervention strengths as a finite 1-D float array with at least 2 distinct values."""
    a = as_finite_1d(alphas, "alphas", min_len=2)
    if np.ptp(a) == 0:
        raise StatsError(f"alphas are all {a[0]:g}; a dose-response slope needs at least 2 distinct alphas")
    return a


def _check_finite_array(values: Any, name: str, axes: Sequence[str]) -> np.ndarray:
    """Convert to a float array with `len(axes)` dimensions, naming the NaN/inf count and first position."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} must be numeric; could not convert it to floats ({exc})") from exc
    if arr.ndim != len(axes):
        raise StatsError(f"{name} must be [{', '.join(axes)}], got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = ", ".join(f"{ax} {int(i)}" for ax, i in zip(axes, np.argwhere(bad)[0], strict=True))
        raise StatsError(
            f"{name} contains {int(np.isnan(arr).sum())} NaN and {int(np.isinf(arr).sum())} inf value(s) "
            f"(first at {first}); drop or repair those items before computing statistics"
        )
    return arr


def check_outcomes(Y: Any, n_alphas: int, name: str = "Y") -> np.ndarray:
    """A finite `[n_items, n_alphas]` outcome matrix whose columns match the alphas."""
    y = _check_finite_array(Y, name, ("item", "alpha index"))
    if y.shape[1] != n_alphas:
        raise StatsError(
            f"{name} has {y.shape[1]} columns but there are {n_alphas} alphas; pass Y[n_items, n_alphas]"
        )
    if y.shape[0] == 0:
        raise StatsError(f"{name} has no items (shape {y.shape})")
    return y


def check_min_items(n_items: int, what: str) -> None:
    """Refuse intervals and tests on fewer than `MIN_ITEMS` items."""
    if n_items < MIN_ITEMS:
        raise StatsError(f"{what}: {n_items} item(s); at least {MIN_ITEMS} are needed; collect more items")


def check_item_ids(
    ids_a: Sequence[Any] | None,
    ids_b: Sequence[Any] | None,
    n_a: int,
    n_b: int,
    names: tuple[str, str] = ("a", "b"),
    hint: str = "",
) -> None:
    """Check two arrays describe the same items in the same order, by ids when given, else by length.

    `hint` is appended to the unpaired-input messages, e.g. how to ask for an unpaired analysis.

    Raises:
        StatsError: If only one side has ids, ids are duplicated or miscounted, or the ids differ; the message
            says whether the same ids merely come in another order.
    """
    na, nb = names
    if (ids_a is None) != (ids_b is None):
        raise StatsError(f"item ids given for only one of {na}/{nb}; pass ids for both or for neither")
    if ids_a is None or ids_b is None:
        if n_a != n_b:
            raise StatsError(
                f"unpaired input: {na} has {n_a} items, {nb} has {n_b}; pass the same items in the same order"
                + hint
            )
        return
    for name, ids, n in ((na, list(ids_a), n_a), (nb, list(ids_b), n_b)):
        if len(ids) != n:
            raise StatsError(f"{name}: {len(ids)} item ids for {n} items; pass one id per row")
        if len(set(ids)) != len(ids):
            raise StatsError(f"{name}: item ids contain duplicates; pairing by id needs unique ids")
    la, lb = list(ids_a), list(ids_b)
    if la != lb:
        if set(la) == set(lb):
            raise StatsError(
                f"{na} and {nb} hold the same item ids in a different order; reorder {nb} to {na}'s ids"
            )
        diff = [k for k, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y]
        k = diff[0] if diff else min(len(la), len(lb))
        raise StatsError(
            f"unpaired input: {na} and {nb} item ids differ ({len(set(la) ^ set(lb))} ids in only one; first "
            f"mismatch at position {k}); restrict both to the shared items in one order" + hint
        )


def _note_if_constant(interval: Interval, values: np.ndarray, what: str) -> Interval:
    """Say so in `note` when every per-item value is equal, so a zero-width interval is not read as certainty."""
    if np.ptp(values) > 0:
        return interval
    extra = (
        f"all {values.size} {what} equal {values[0]:g}: the interval has zero width because the items do not "
        "vary, not because the effect is known exactly"
    )
    return interval.model_copy(update={"note": "; ".join(s for s in (interval.note, extra) if s)})


# --- dose-response slopes and deltas ---------------------------------------------------------------


def _slope_weights(alphas: np.ndarray) -> np.ndarray:
    """OLS weights w with slope = w @ y for any outcome curve y over `alphas`."""
    centred = alphas - alphas.mean()
    return centred / float(centred @ centred)


def item_slopes(alphas: Any, Y: Any) -> np.ndarray:
    """OLS slope of each item's outcome on alpha.

    Args:
        alphas: `[n_alphas]` intervention strengths, at least 2 distinct.
        Y: `[n_items, n_alphas]` per-item outcomes (e.g. log-prob margin or 0/1 compliance).

    Returns:
        `[n_items]` slopes; their mean equals `dose_slope(alphas, Y)` because OLS is linear in the outcome.

    Raises:
        StatsError: On NaN/inf (naming how many), a column count that does not match `alphas`, or fewer than
            2 distinct alphas.
    """
    a = check_alphas(alphas)
    return check_outcomes(Y, a.size) @ _slope_weights(a)


def dose_slope(alphas: Any, Y: Any) -> float:
    """OLS slope of the item-mean outcome on alpha (the mean of the per-item slopes).

    Args:
        alphas: `[n_alphas]` intervention strengths, at least 2 distinct.
        Y: `[n_items, n_alphas]` per-item outcomes; at least 1 item.

    Returns:
        The slope of `Y.mean(axis=0)` on `alphas`, equal to `np.polyfit(alphas, Y.mean(0), 1)[0]`.

    Raises:
        StatsError: See `item_slopes`.
    """
    return float(item_slopes(alphas, Y).mean())


def dose_slope_ci(
    alphas: Any,
    Y: Any,
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int,
    method: BootstrapMethod = "bca",
) -> Interval:
    """Bootstrap interval of `dose_slope`, resampling items (rows of `Y`) with replacement.

    Args:
        alphas: `[n_alphas]` intervention strengths, at least 2 distinct.
        Y: `[n_items, n_alphas]` per-item outcomes; at least `MIN_ITEMS` items.
        level: Two-sided coverage, strictly between 0 and 1.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for `numpy.random.default_rng`.
        method: "bca" or "percentile"; a failed BCa falls back to percentile with a note (see `bootstrap_ci`).

    Returns:
        An `Interval` around the slope; `n` is the number of items. `note` says when every item has the same
        slope (a zero-width interval).

    Raises:
        StatsError: On NaN/inf in `Y`, mismatched shapes, fewer than 2 distinct alphas or `MIN_ITEMS` items.
    """
    slopes = item_slopes(alphas, Y)
    check_min_items(slopes.size, "dose_slope_ci")
    iv = bootstrap_ci(
        [slopes], _mean, paired=False, level=level, n_resamples=n_resamples, seed=seed, method=method
    )
    return _note_if_constant(iv, slopes, "per-item slopes")


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _alpha_index(alphas: np.ndarray, value: float, name: str) -> int:
    hits = np.flatnonzero(np.isclose(alphas, value, rtol=1e-9, atol=1e-12))
    if hits.size != 1:
        found = "is not among" if hits.size == 0 else "appears more than once in"
        raise StatsError(f"{name}={value!r} {found} alphas {alphas.tolist()}; pass one of the alpha values")
    return int(hits[0])


def delta_ci(
    Y: Any,
    alphas: Any,
    frm: float,
    to: float,
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int,
    method: DeltaMethod = "bca",
) -> Interval:
    """Paired interval of the mean over items of `Y[:, to] - Y[:, frm]`: a bootstrap, or Newcombe's score
    interval for 0/1 outcomes.

    `frm` and `to` are alpha values (e.g. the no-op alpha and the largest), not column indices. Each resample
    draws items once and takes both columns from them. A bootstrap of a paired difference of 0/1 outcomes
    under-covers when few items change (docs/validation.md: 60% coverage with 1.5 discordant items expected),
    so on 0/1 columns with fewer than `MIN_DISCORDANT_BOOTSTRAP` discordant items it is refused; use
    `method="newcombe"` (closed form, `mcnemar_exact(...).difference`), which covers at every n simulated.

    Args:
        Y: `[n_items, n_alphas]` per-item outcomes; at least `MIN_ITEMS` items.
        alphas: `[n_alphas]` intervention strengths.
        frm: The alpha the change is measured from.
        to: The alpha the change is measured to.
        level: Two-sided coverage, strictly between 0 and 1.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for `numpy.random.default_rng`.
        method: "bca" or "percentile" (see `bootstrap_ci` for the recorded fallback), or "newcombe" for 0/1
            outcomes (`n_resamples` and `seed` are then unused).

    Returns:
        An `Interval` around the mean change; `note` says when every item changes by the same amount.

    Raises:
        StatsError: If `frm` or `to` is not exactly one of the alphas, they are equal, on bad `Y`, on
            "newcombe" with outcomes other than 0/1, or on a bootstrap of 0/1 outcomes with fewer than
            `MIN_DISCORDANT_BOOTSTRAP` discordant items.
    """
    a = check_alphas(alphas)
    y = check_outcomes(Y, a.size)
    i_from, i_to = _alpha_index(a, frm, "frm"), _alpha_index(a, to, "to")
    if i_from == i_to:
        raise StatsError(f"delta_ci: frm and to are both alpha {a[i_to]:g}; pick two different alphas")
    check_min_items(y.shape[0], "delta_ci")
    binary = bool(np.isin(y[:, [i_from, i_to]], (0.0, 1.0)).all())
    if method == "newcombe":
        if not binary:
            raise StatsError(
                "delta_ci: method 'newcombe' is the paired interval of 0/1 outcomes, but Y holds other values; "
                "use method 'bca' for continuous outcomes"
            )
        return mcnemar_exact(y[:, i_to], y[:, i_from], level=level).difference
    discordant = int(np.count_nonzero(y[:, i_to] != y[:, i_from]))
    if binary and discordant < MIN_DISCORDANT_BOOTSTRAP:
        raise StatsError(
            f"delta_ci: 0/1 outcomes with {discordant} discordant item(s) (of {y.shape[0]}); a bootstrap "
            f"interval under-covers below {MIN_DISCORDANT_BOOTSTRAP} (docs/validation.md). Fix: use "
            "method='newcombe' (interval.method: newcombe in a claim)"
        )
    iv = paired_difference_ci(
        y[:, i_to], y[:, i_from], level=level, n_resamples=n_resamples, seed=seed, method=method
    )
    return _note_if_constant(iv, y[:, i_to] - y[:, i_from], "per-item deltas")


# --- permutation tests -----------------------------------------------------------------------------


def _count_extreme(null: np.ndarray, observed: float, alternative: str, tol: float) -> int:
    """How many null statistics are at least as extreme as `observed` (with a float tolerance)."""
    if alternative == "greater":
        return int(np.count_nonzero(null >= observed - tol))
    if alternative == "less":
        return int(np.count_nonzero(null <= observed + tol))
    return int(np.count_nonzero(np.abs(null) >= abs(observed) - tol))


def sign_flip_p(
    d: Any, *, alternative: Alternative = "greater", n_permutations: int = 10_000, seed: int
) -> float:
    """Sign-flip permutation p-value for the mean of paired differences `d`.

    Tests H0: each `d_i` is symmetric about 0 (swapping the two conditions within an item is as likely as
    not), against a positive ("greater"), negative ("less") or either ("two-sided") mean. With at most
    `EXACT_SIGN_FLIP_MAX` items all `2**n` sign vectors are enumerated (p is exact, at least `2**-n`);
    otherwise `n_permutations` random sign vectors give `p = (b + 1) / (m + 1)`, never 0.

    Args:
        d: Per-item paired differences; at least `MIN_ITEMS`.
        alternative: "greater", "less" or "two-sided".
        n_permutations: Random sign vectors when `len(d) > EXACT_SIGN_FLIP_MAX`.
        seed: Seed for `numpy.random.default_rng` (unused when the enumeration is exact).

    Returns:
        The p-value in (0, 1].

    Raises:
        StatsError: On NaN/inf, fewer than `MIN_ITEMS` values, or bad settings.
    """
    x = as_finite_1d(d, "d")
    check_min_items(x.size, "sign_flip_p")
    check_alternative(alternative)
    check_resampling(n_permutations, seed)
    observed = float(x.sum())
    tol = 1e-10 * float(np.abs(x).sum())
    if x.size <= EXACT_SIGN_FLIP_MAX:
        total = 1 << x.size
        bits = np.arange(x.size)
        hits = 0
        for start in range(0, total, 1 << 16):
            codes = np.arange(start, min(total, start + (1 << 16)))
            signs = 1.0 - 2.0 * ((codes[:, None] >> bits) & 1)  # row k: the k-th of all sign vectors
            hits += _count_extreme(signs @ x, observed, alternative, tol)
        return hits / total
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_permutations, _BLOCK):
        signs = rng.choice(np.array([-1.0, 1.0]), size=(min(_BLOCK, n_permutations - start), x.size))
        hits += _count_extreme(signs @ x, observed, alternative, tol)
    return (hits + 1) / (n_permutations + 1)


def _welch_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Welch t statistic of mean(a) - mean(b) along the last axis (+-inf when both groups are constant)."""
    se = np.sqrt(a.var(axis=-1, ddof=1) / a.shape[-1] + b.var(axis=-1, ddof=1) / b.shape[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((a.mean(axis=-1) - b.mean(axis=-1)) / se)


def _welch_permutation_p(
    t: np.ndarray, c: np.ndarray, *, alternative: str, n_permutations: int, seed: int
) -> float:
    """Two-sample label-permutation p of the Welch t (valid for unequal variances in large samples)."""
    pooled = np.concatenate([t, c])
    if np.ptp(pooled) == 0:
        return 1.0
    observed = float(_welch_t(t, c))
    tol = 1e-10 * abs(observed) if math.isfinite(observed) else 0.0
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_permutations, _BLOCK):
        nb = min(_BLOCK, n_permutations - start)
        perm = pooled[rng.permuted(np.tile(np.arange(pooled.size), (nb, 1)), axis=1)]
        null = _welch_t(perm[:, : t.size], perm[:, t.size :])
        hits += _count_extreme(null, observed, alternative, tol)
    return (hits + 1) / (n_permutations + 1)


# --- treatment slope against control slopes --------------------------------------------------------


class SlopeComparison(_Result):
    """A treatment's dose-response slope against random controls (e.g. random neuron sets) on the same items."""

    estimate: float
    """Treatment slope minus the mean over seeds of the control slopes."""
    treatment_slope: float
    """`dose_slope` of the treatment."""
    control_mean_slope: float
    """Mean over seeds of the control slopes."""
    control_slopes: list[float]
    """`dose_slope` of each control seed, in seed order."""
    interval: Interval
    """Bootstrap interval of `estimate`; `method` names what was resampled (items, or items x seeds)."""
    paired: bool
    """Whether treatment and controls were on the same items (resampled jointly, sign-flip test)."""
    resample_seeds: bool
    """Whether the interval also resampled control seeds (two-way bootstrap)."""
    alternative: Alternative
    """Direction of the permutation and rank tests."""
    p_value: float
    """Permutation p-value: sign-flip on the per-item differences when paired, Welch-t label permutation if not."""
    p_method: str
    """"sign-flip-exact", "sign-flip-monte-carlo" or "welch-t-permutation-monte-carlo"."""
    n_permutations: int
    """Sign vectors or label permutations evaluated (`2**n_items` when exact)."""
    n_items: int = Field(ge=1)
    """Treatment items."""
    n_control_items: int = Field(ge=1)
    """Control items (equal to `n_items` when paired)."""
    n_seeds: int = Field(ge=1)
    """Control seeds."""
    n_beaten: int
    """Control slopes strictly below the treatment slope (strictly above for "less"; the larger count for
    "two-sided")."""
    rank_p: float
    """`(1 + #controls at least as extreme as the treatment) / (1 + n_seeds)`; exact if the treatment were a
    control draw."""
    rank_p_min: float
    """Smallest attainable `rank_p`, `1 / (n_seeds + 1)`."""
    rank_summary: str
    """E.g. "treatment slope 0.41 beats 20 of 20 control slopes"."""
    note: str = ""
    """Caveats: few seeds, fixed seeds, the smallest attainable rank p."""


def _control_slopes(C: Any, alphas: np.ndarray) -> np.ndarray:
    """`[n_seeds, n_items]` per-item slopes of every control seed."""
    if np.ndim(C) == 2:
        raise StatsError(
            f"C has shape {np.shape(C)}; controls are [n_seeds, n_items, n_alphas] (one seed: C[None])"
        )
    c = _check_finite_array(C, "C", ("seed", "item", "alpha index"))
    if c.shape[2] != alphas.size or 0 in c.shape:
        raise StatsError(
            f"C has shape {c.shape}; expected [n_seeds >= 1, n_items >= 1, {alphas.size} alphas]"
        )
    return c @ _slope_weights(alphas)


def _resampled_differences(
    t: np.ndarray,
    cs: np.ndarray,
    *,
    paired: bool,
    resample_seeds: bool,
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bootstrap distribution of mean(t) - mean(cs) from multinomial resample counts.

    Items: one count vector per resample, shared by treatment and controls when paired. Seeds: counts over
    the rows of `cs` when `resample_seeds`, else every seed once.
    """
    n_seeds, n_c = cs.shape
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, _BLOCK):
        nb = min(_BLOCK, n_resamples - start)
        wt = rng.multinomial(t.size, np.full(t.size, 1.0 / t.size), size=nb)  # [nb, n_items] item counts
        wc = wt if paired else rng.multinomial(n_c, np.full(n_c, 1.0 / n_c), size=nb)
        ws = (
            rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=nb)
            if resample_seeds
            else np.ones((nb, n_seeds))
        )
        control = ((ws @ cs) * wc).sum(axis=1) / (n_seeds * n_c)
        out[start : start + nb] = wt @ t / t.size - control
    return out


def _slope_difference_interval(
    t: np.ndarray,
    cs: np.ndarray,
    *,
    paired: bool,
    resample_seeds: bool,
    level: float,
    n_resamples: int,
    seed: int,
    method: BootstrapMethod,
) -> Interval:
    """Paired-items BCa via `bootstrap_ci` when seeds are fixed; otherwise a recorded percentile bootstrap."""
    if paired and not resample_seeds:
        d = t - cs.mean(axis=0)
        iv = bootstrap_ci(
            [d], _mean, paired=False, level=level, n_resamples=n_resamples, seed=seed, method=method
        )
        iv = iv.model_copy(update={"method": f"paired-items-{iv.method}"})
        return _note_if_constant(iv, d, "per-item slope differences")
    level = check_level(level)
    check_resampling(n_resamples, seed)
    dist = _resampled_differences(
        t,
        cs,
        paired=paired,
        resample_seeds=resample_seeds,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
    )
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(dist, [tail, 1.0 - tail])
    notes = []
    if method == "bca":
        notes.append("BCa is not implemented for this resampling scheme; percentile used")
    if np.ptp(dist) == 0:
        notes.append("every resample gives the same difference: zero width reflects no variation in the data")
    kind = ("paired-" if paired else "unpaired-") + ("items-x-seeds" if resample_seeds else "items")
    return Interval(
        estimate=float(t.mean() - cs.mean()),
        low=float(low),
        high=float(high),
        method=f"{kind}-percentile",
        level=level,
        n=int(t.size),
        n_resamples=int(n_resamples),
        seed=int(seed),
        note="; ".join(notes),
    )


def _rank_among_controls(treat: float, controls: np.ndarray, alternative: str) -> tuple[int, float, str]:
    """Controls beaten, the rank p-value, and a one-line summary of the treatment among the control seeds."""
    n_seeds = controls.size
    below, above = int(np.count_nonzero(controls < treat)), int(np.count_nonzero(controls > treat))
    p_greater = (1 + n_seeds - below) / (1 + n_seeds)  # controls >= treatment count against it
    p_less = (1 + n_seeds - above) / (1 + n_seeds)
    if alternative == "greater":
        return below, p_greater, f"treatment slope {treat:.4g} beats {below} of {n_seeds} control slopes"
    if alternative == "less":
        return above, p_less, f"treatment slope {treat:.4g} is below {above} of {n_seeds} control slopes"
    summary = f"treatment slope {treat:.4g} is above {below} and below {above} of {n_seeds} control slopes"
    return max(below, above), min(1.0, 2.0 * min(p_greater, p_less)), summary


def _seed_notes(n_seeds: int, resample_seeds: bool, rank_p_min: float) -> list[str]:
    notes = [
        f"with {n_seeds} control seed(s) the smallest attainable rank p is 1/{n_seeds + 1} = {rank_p_min:.3g}"
    ]
    if n_seeds == 1:
        notes.append("one control seed: the interval ignores variation between control draws")
    elif not resample_seeds:
        notes.append(f"control seeds held fixed: the interval is conditional on these {n_seeds} controls")
    elif n_seeds < 5:
        notes.append(f"only {n_seeds} control seeds: resampling them is coarse and understates their spread")
    return notes


def _resolve_resample_seeds(resample_seeds: bool | None, n_seeds: int) -> bool:
    if resample_seeds is None:
        return n_seeds >= 2
    if resample_seeds and n_seeds < 2:
        raise StatsError("resample_seeds=True needs at least 2 control seeds; pass more seeds or False")
    return bool(resample_seeds)


def _slope_difference_p(
    t: np.ndarray, cs: np.ndarray, *, paired: bool, alternative: Alternative, n_permutations: int, seed: int
) -> tuple[float, str, int]:
    """Permutation p-value, its method and the permutations evaluated (2**n_items when exact)."""
    check_resampling(n_permutations, seed)
    if not paired:
        p_value = _welch_permutation_p(
            t, cs.mean(axis=0), alternative=alternative, n_permutations=n_permutations, seed=seed
        )
        return p_value, "welch-t-permutation-monte-carlo", n_permutations
    d = t - cs.mean(axis=0)
    p_value = sign_flip_p(d, alternative=alternative, n_permutations=n_permutations, seed=seed)
    if d.size <= EXACT_SIGN_FLIP_MAX:
        return p_value, "sign-flip-exact", 1 << d.size
    return p_value, "sign-flip-monte-carlo", n_permutations


def slope_difference(
    alphas: Any,
    Y_treat: Any,
    C: Any,
    *,
    treat_ids: Sequence[Any] | None = None,
    control_ids: Sequence[Any] | None = None,
    paired: bool = True,
    resample_seeds: bool | None = None,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int,
    n_permutations: int = 10_000,
    alternative: Alternative = "greater",
    method: BootstrapMethod = "bca",
) -> SlopeComparison:
    """Compare a treatment's dose-response slope with the slopes of random controls on the same items.

    Estimate: `dose_slope(Y_treat) - mean_s dose_slope(C[s])`.

    Interval: each resample draws item indices once and applies them to the treatment and to every control
    seed, so item difficulty cancels. With `resample_seeds` (default when there are >= 2 seeds) the control
    seeds are also resampled with replacement (a two-way "pigeonhole" bootstrap, mildly conservative):
    controls are random draws (random neuron sets, directions), and a claim of beating *such* controls must
    carry the spread between draws. With `resample_seeds=False` the interval is conditional on these
    particular controls and too narrow for that claim. Fixed seeds use BCa via `bootstrap_ci`; two-way or
    unpaired resampling uses the percentile interval (and says so in `note` if BCa was asked for).

    Permutation test (paired): sign flips of `d_i = slope_i(treat) - mean_s slope_i(C[s])`, testing H0 "d_i
    is symmetric about 0", exact for <= `EXACT_SIGN_FLIP_MAX` items. Unpaired (`paired=False`): a Welch-t
    label permutation of treatment item slopes against per-item control-mean slopes. The rank test asks how
    many control seed slopes the treatment beats; it is exact if the treatment were one more control draw.

    Args:
        alphas: `[n_alphas]` intervention strengths, at least 2 distinct.
        Y_treat: `[n_items, n_alphas]` treatment outcomes; at least `MIN_ITEMS` items.
        C: `[n_seeds, n_items, n_alphas]` control outcomes on the same items in the same order.
        treat_ids: Item ids of the rows of `Y_treat`; checked against `control_ids` when given.
        control_ids: Item ids of the items of `C`.
        paired: False for controls on other items: items are then resampled independently per arm.
        resample_seeds: Also resample control seeds; None means True when there are >= 2 seeds.
        level: Two-sided coverage of the interval.
        n_resamples: Bootstrap resamples.
        seed: Seed for `numpy.random.default_rng` (bootstrap and, separately, permutations).
        n_permutations: Random permutations when the test is not enumerated exactly.
        alternative: "greater" (treatment slope larger), "less" or "two-sided".
        method: "bca" or "percentile" for the fixed-seed paired interval.

    Returns:
        A `SlopeComparison`; `.to_dict()` gives JSON types.

    Raises:
        StatsError: On unpaired input with `paired=True` (different item counts or ids), NaN/inf (counted),
            fewer than `MIN_ITEMS` items or 2 distinct alphas, or `resample_seeds=True` with one seed.
    """
    check_alternative(alternative)
    a = check_alphas(alphas)
    t = check_outcomes(Y_treat, a.size, "Y_treat") @ _slope_weights(a)
    cs = _control_slopes(C, a)
    if paired:
        hint = ", or pass paired=False if the controls ran on other items"
        check_item_ids(treat_ids, control_ids, t.size, cs.shape[1], ("Y_treat", "C"), hint)
    check_min_items(t.size, "slope_difference (treatment)")
    check_min_items(cs.shape[1], "slope_difference (controls)")
    do_seeds = _resolve_resample_seeds(resample_seeds, cs.shape[0])
    interval = _slope_difference_interval(
        t,
        cs,
        paired=paired,
        resample_seeds=do_seeds,
        level=level,
        n_resamples=n_resamples,
        seed=seed,
        method=method,
    )
    p_value, p_method, n_perm = _slope_difference_p(
        t, cs, paired=paired, alternative=alternative, n_permutations=n_permutations, seed=seed
    )
    controls = cs.mean(axis=1)
    n_beaten, rank_p, summary = _rank_among_controls(float(t.mean()), controls, alternative)
    rank_p_min = 1.0 / (controls.size + 1)
    notes = _seed_notes(controls.size, do_seeds, rank_p_min)
    return SlopeComparison(
        estimate=interval.estimate,
        treatment_slope=float(t.mean()),
        control_mean_slope=float(controls.mean()),
        control_slopes=controls.tolist(),
        interval=interval,
        paired=paired,
        resample_seeds=do_seeds,
        alternative=alternative,
        p_value=p_value,
        p_method=p_method,
        n_permutations=n_perm,
        n_items=t.size,
        n_control_items=cs.shape[1],
        n_seeds=controls.size,
        n_beaten=n_beaten,
        rank_p=rank_p,
        rank_p_min=rank_p_min,
        rank_summary=summary,
        note="; ".join(notes),
    )


# --- paired binary outcomes ------------------------------------------------------------------------


class McNemarResult(_Result):
    """Exact McNemar test and paired difference in proportions for two binary outcomes on the same items."""

    n: int = Field(ge=1)
    """Items."""
    both: int
    """Items where `a` and `b` are both true."""
    neither: int
    """Items where both are false."""
    b10: int
    """Discordant items with `a` true and `b` false."""
    b01: int
    """Discordant items with `a` false and `b` true."""
    p_value: float
    """Exact two-sided binomial p of `b10` among `b10 + b01` discordant items at 1/2 (1.0 with none)."""
    difference: Interval
    """`mean(a) - mean(b) = (b10 - b01) / n` with Newcombe's hybrid score interval for paired data."""
    note: str = ""


def _newcombe_paired(both: int, b10: int, b01: int, neither: int, level: float) -> tuple[float, float]:
    """Newcombe (1998, Stat Med 17:2635) method 10: Wilson limits per margin, combined with a corrected phi."""
    n = both + b10 + b01 + neither
    p1, p2 = (both + b10) / n, (both + b01) / n
    w1, w2 = wilson_interval(both + b10, n, level), wilson_interval(both + b01, n, level)
    margins = (both + b10) * (b01 + neither) * (both + b01) * (b10 + neither)
    cross = both * neither - b10 * b01
    # phi estimates the correlation of the two margins; positive values are continuity-corrected by n/2.
    phi_num = max(cross - n / 2.0, 0.0) if cross > 0 else float(cross)
    phi = phi_num / math.sqrt(margins) if margins > 0 else 0.0
    d1, d2 = p1 - w1.low, w2.high - p2
    e1, e2 = w1.high - p1, p2 - w2.low
    low = p1 - p2 - math.sqrt(max(d1 * d1 - 2.0 * phi * d1 * d2 + d2 * d2, 0.0))
    high = p1 - p2 + math.sqrt(max(e1 * e1 - 2.0 * phi * e1 * e2 + e2 * e2, 0.0))
    return max(-1.0, low), min(1.0, high)


def mcnemar_exact(
    a: Any,
    b: Any,
    *,
    ids_a: Sequence[Any] | None = None,
    ids_b: Sequence[Any] | None = None,
    level: float = 0.95,
) -> McNemarResult:
    """Exact McNemar test of two paired binary outcomes (e.g. correct with and without an intervention).

    The p-value is `scipy.stats.binomtest(b10, b10 + b01, 0.5)` (two-sided, exact; concordant items carry no
    information). The difference `mean(a) - mean(b)` gets Newcombe's hybrid score interval for paired
    proportions (method 10), a closed form that stays inside [-1, 1] and behaves well at 0 or n discordant
    items, unlike the Wald interval; it needs no seed.

    Args:
        a: One bool (or 0/1) outcome per item under condition A.
        b: The outcome of the same items under condition B, in the same order.
        ids_a: Item ids of `a`; checked against `ids_b` when given.
        ids_b: Item ids of `b`.
        level: Two-sided coverage of the difference interval.

    Returns:
        A `McNemarResult`.

    Raises:
        StatsError: On non-binary or NaN input, unpaired items, or fewer than `MIN_ITEMS` items.
    """
    level = check_level(level)
    xa, xb = as_binary(a, "a"), as_binary(b, "b")
    check_item_ids(ids_a, ids_b, xa.size, xb.size)
    check_min_items(xa.size, "mcnemar_exact")
    both, neither = int(np.sum(xa & xb)), int(np.sum(~xa & ~xb))
    b10, b01 = int(np.sum(xa & ~xb)), int(np.sum(~xa & xb))
    note = ""
    if b10 + b01 == 0:
        p_value, note = 1.0, "no discordant items: a and b agree on every item, so p = 1"
    else:
        p_value = float(binomtest(b10, b10 + b01, 0.5).pvalue)
    low, high = _newcombe_paired(both, b10, b01, neither, level)
    diff = Interval(
        estimate=(b10 - b01) / xa.size,
        low=low,
        high=high,
        method="newcombe-paired-score",
        level=level,
        n=int(xa.size),
        note=note,
    )
    return McNemarResult(
        n=int(xa.size),
        both=both,
        neither=neither,
        b10=b10,
        b01=b01,
        p_value=min(1.0, p_value),
        difference=diff,
        note=note,
    )


# --- equivalence ("no effect", "matched") ----------------------------------------------------------


class EquivalenceResult(_Result):
    """Two one-sided tests (TOST) that an effect lies within `[-margin, margin]`."""

    estimate: float
    """The effect on the original data, e.g. a difference of AUROCs."""
    margin: float = Field(gt=0.0)
    """Equivalence margin: effects within +-margin count as "no effect"."""
    alpha: float
    """Size of each one-sided test."""
    low: float
    """Lower bound of the `1 - 2 * alpha` interval."""
    high: float
    """Upper bound of the `1 - 2 * alpha` interval."""
    level: float
    """`1 - 2 * alpha`, the coverage of `[low, high]`."""
    p_lower: float
    """p of H0 "effect <= -margin"."""
    p_upper: float
    """p of H0 "effect >= +margin"."""
    p_value: float
    """TOST p, `max(p_lower, p_upper)`."""
    equivalent: bool
    """True when `-margin < low` and `high < margin`."""
    method: str
    """"normal-se" or "bootstrap-percentile" (prefixed by the resampling scheme where one was run)."""
    n: int | None = None
    """Items behind the estimate, if known."""
    n_resamples: int | None = None
    """Bootstrap samples used, if any."""
    seed: int | None = None
    """Seed of the bootstrap, if this function drew it."""
    note: str = ""


def _tost_normal(
    estimate: float, se: float, margin: float, alpha: float
) -> tuple[float, float, float, float, str]:
    if se == 0:
        p_lower = 0.0 if estimate > -margin else 1.0
        p_upper = 0.0 if estimate < margin else 1.0
        return (
            estimate,
            estimate,
            p_lower,
            p_upper,
            "se = 0: the interval has zero width; the tests are steps",
        )
    z = float(ndtri(1.0 - alpha))
    p_lower = float(ndtr(-(estimate + margin) / se))
    p_upper = float(ndtr((estimate - margin) / se))
    return estimate - z * se, estimate + z * se, p_lower, p_upper, ""


def _tost_bootstrap(
    samples: np.ndarray, margin: float, alpha: float
) -> tuple[float, float, float, float, str]:
    needed = math.ceil(10.0 / alpha)
    if samples.size < needed:
        raise StatsError(
            f"equivalence_test: {samples.size} bootstrap samples; at least {needed} (10 / alpha) are "
            "needed to place the alpha tails"
        )
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    p_lower = (1 + np.count_nonzero(samples <= -margin)) / (1 + samples.size)
    p_upper = (1 + np.count_nonzero(samples >= margin)) / (1 + samples.size)
    note = "zero-width bootstrap distribution: the data do not vary" if np.ptp(samples) == 0 else ""
    return float(low), float(high), float(p_lower), float(p_upper), note


def equivalence_test(
    estimate: float, se_or_bootstrap_samples: Any, margin: float, alpha: float = 0.05, *, n: int | None = None
) -> EquivalenceResult:
    """TOST: is the effect inside `[-margin, margin]`? For "no effect" and "matched" claims.

    With a standard error, the one-sided p-values are normal (`p_lower = 1 - Phi((estimate + margin) / se)`,
    `p_upper = Phi((estimate - margin) / se)`) and the interval is `estimate +- z_{1-alpha} se`. With
    bootstrap samples of the effect, the interval is their `[alpha, 1 - alpha]` percentile range and
    `p_lower = (1 + #samples <= -margin) / (1 + B)` (likewise `p_upper`), so p is never 0. `equivalent`
    is read from the `1 - 2 alpha` interval (strictly inside the margins), which is the TOST decision at
    size alpha; the bootstrap p-values can differ from it by about 1/B.

    Args:
        estimate: The effect on the original data.
        se_or_bootstrap_samples: A scalar standard error (>= 0), or a 1-D array of bootstrap replicates of
            the effect (at least `10 / alpha`).
        margin: Equivalence margin, > 0, in the units of the effect; set it from what the claim calls
            negligible before looking at the data.
        alpha: Size of each one-sided test, in (0, 0.5).
        n: Items behind the estimate, recorded in the result.

    Returns:
        An `EquivalenceResult`.

    Raises:
        StatsError: On non-finite input, `margin <= 0`, `alpha` outside (0, 0.5), a negative se, or too few
            bootstrap samples.
    """
    estimate = float(estimate)
    if not (math.isfinite(estimate) and math.isfinite(margin) and margin > 0):
        raise StatsError(
            f"equivalence_test: estimate={estimate} and margin={margin} must be finite, margin > 0"
        )
    if not 0.0 < alpha < 0.5:
        raise StatsError(
            f"equivalence_test: alpha={alpha!r} must lie in (0, 0.5); the interval is 1 - 2 alpha"
        )
    if np.ndim(se_or_bootstrap_samples) == 0:
        se = float(se_or_bootstrap_samples)
        if not (math.isfinite(se) and se >= 0):
            raise StatsError(f"equivalence_test: se={se} must be finite and >= 0")
        low, high, p_lower, p_upper, note = _tost_normal(estimate, se, margin, alpha)
        method, n_resamples = "normal-se", None
    else:
        samples = as_finite_1d(se_or_bootstrap_samples, "bootstrap samples")
        low, high, p_lower, p_upper, note = _tost_bootstrap(samples, margin, alpha)
        method, n_resamples = "bootstrap-percentile", int(samples.size)
    return EquivalenceResult(
        estimate=estimate,
        margin=float(margin),
        alpha=float(alpha),
        low=low,
        high=high,
        level=1.0 - 2.0 * alpha,
        p_lower=p_lower,
        p_upper=p_upper,
        p_value=max(p_lower, p_upper),
        equivalent=-margin < low and high < margin,
        method=method,
        n=n,
        n_resamples=n_resamples,
        note=note,
    )


def auroc_equivalence(
    scores_a: Any,
    scores_b: Any,
    labels: Any,
    margin: float,
    *,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int,
    ids_a: Sequence[Any] | None = None,
    ids_b: Sequence[Any] | None = None,
) -> EquivalenceResult:
    """TOST that two detectors scored on the same test items have AUROCs within `margin` of each other.

    The bootstrap follows `paired_auroc_difference_ci`: each resample draws positives and negatives
    separately (class-stratified, so AUROC is always defined) and scores both detectors on the same drawn
    items, keeping their correlation. The replicates of `AUROC(a) - AUROC(b)` go to `equivalence_test`.

    Args:
        scores_a: Scores of detector A, one per item.
        scores_b: Scores of detector B on the same items in the same order.
        labels: One 0/1 (or bool) label per item; at least 2 per class and `MIN_ITEMS` in all.
        margin: AUROC difference treated as negligible, e.g. 0.02.
        alpha: Size of each one-sided test; the interval has level `1 - 2 * alpha`.
        n_resamples: Bootstrap resamples (at least `10 / alpha`).
        seed: Seed for `numpy.random.default_rng`.
        ids_a: Item ids of `scores_a`; checked against `ids_b` when given.
        ids_b: Item ids of `scores_b`.

    Returns:
        An `EquivalenceResult` with `method = "paired-stratified-bootstrap-percentile"`.

    Raises:
        StatsError: On NaN/inf, non-binary labels, unpaired items, too few items per class, or bad settings.
    """
    check_resampling(n_resamples, seed)
    sa, sb, y = (
        as_finite_1d(scores_a, "scores_a"),
        as_finite_1d(scores_b, "scores_b"),
        as_binary(labels, "labels"),
    )
    check_item_ids(ids_a, ids_b, sa.size, sb.size, ("scores_a", "scores_b"))
    check_same_length(scores_a=sa, scores_b=sb, labels=y)
    check_min_items(y.size, "auroc_equivalence")
    pos, neg = class_indices(y, min_per_class=2)
    estimate = float(auroc_from_classes(sa[pos], sa[neg]) - auroc_from_classes(sb[pos], sb[neg]))
    rng = np.random.default_rng(seed)
    samples = np.empty(n_resamples)
    for start in range(0, n_resamples, _BLOCK):
        nb = min(_BLOCK, n_resamples - start)
        p, q = rng.choice(pos, (nb, pos.size)), rng.choice(neg, (nb, neg.size))
        samples[start : start + nb] = auroc_from_classes(sa[p], sa[q]) - auroc_from_classes(sb[p], sb[q])
    result = equivalence_test(estimate, samples, margin, alpha, n=int(y.size))
    return result.model_copy(update={"method": "paired-stratified-bootstrap-percentile", "seed": int(seed)})
