"""Per-claim plots (matplotlib, Agg, PNG files): dose-response with its interval band and the control envelope,
ROC of a detector and its shuffled-label refits, a forest plot of the treatment's and controls' intervals, and
the control distribution with the treatment marked. Bands are seeded bootstraps over items (questions).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.report._bundle import ClaimEntry

log = logging.getLogger(__name__)
BAND_SEED = 0
BAND_RESAMPLES = 1000


@dataclass(frozen=True)
class Plot:
    """One written figure: file name (inside the plots folder) and a caption without numbers."""

    kind: str
    file: str
    caption: str


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5.2, 3.4), dpi=90, layout="constrained")


def _save(fig: Any, out: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / name, format="png")
    plt.close(fig)
    return name


def _rows(entry: ClaimEntry) -> Any:
    if entry.rows_path is None:
        return None
    from harness.claims._evidence import read_rows

    return read_rows(entry.rows_path)


def _band(Y: np.ndarray, clusters: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile band of the per-alpha mean, resampling items (or whole questions) with a fixed seed."""
    rng = np.random.default_rng(BAND_SEED)
    groups = np.unique(np.asarray(clusters), return_inverse=True)[1] if clusters else np.arange(len(Y))
    n_groups = int(groups.max()) + 1
    members = [np.flatnonzero(groups == g) for g in range(n_groups)]
    means = np.empty((BAND_RESAMPLES, Y.shape[1]))
    for b in range(BAND_RESAMPLES):
        idx = np.concatenate([members[g] for g in rng.integers(0, n_groups, n_groups)])
        means[b] = Y[idx].mean(axis=0)
    return np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)


def dose_response(entry: ClaimEntry, out: Path) -> Plot | None:
    """Mean outcome by alpha (treatment) with a bootstrap band and the envelope of the control sets' means."""
    r = entry.result or {}
    details = r.get("details") or {}
    if "alphas" not in details:
        return None
    alphas = tuple(float(a) for a in details["alphas"])
    fig, ax = _figure()
    ev = _rows(entry)
    caption = "Mean outcome by alpha"
    if ev is not None and "treatment" in ev.conditions():
        ids, Y = ev.matrix("treatment", alphas)
        lo, hi = _band(Y, None)
        ax.fill_between(alphas, lo, hi, color="tab:blue", alpha=0.25, label="treatment band")
        ax.plot(alphas, Y.mean(axis=0), "o-", color="tab:blue", label="treatment")
        ctrl = [ev.matrix(c, alphas, ids)[1].mean(axis=0) for c in ev.conditions() if c.startswith("control/")]
        if ctrl:
            C = np.stack(ctrl)
            ax.fill_between(alphas, C.min(axis=0), C.max(axis=0), color="grey", alpha=0.3,
                            label="control envelope")
        caption += (" with a percentile bootstrap band over items (seeded)"
                    + (" and the envelope (min to max) of the random control sets' means" if ctrl else ""))
    else:
        means = details.get("mean_by_alpha") or {}
        ax.plot(alphas, [means.get(str(a), np.nan) for a in alphas], "o-", color="tab:blue", label="treatment")
        caption += " (no rows file: means only, no band or control envelope)"
    ax.set_xlabel("alpha")
    ax.set_ylabel(str(details.get("metric", "outcome")))
    ax.legend(fontsize=7)
    return Plot("dose-response", _save(fig, out, f"{entry.claim_id}-dose.png"), caption)


def _roc(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="stable")
    ys = y[order]
    tpr = np.concatenate([[0.0], np.cumsum(ys) / max(1, ys.sum())])
    fpr = np.concatenate([[0.0], np.cumsum(1 - ys) / max(1, (1 - ys).sum())])
    return fpr, tpr


def roc(entry: ClaimEntry, out: Path) -> Plot | None:
    """ROC of the detector's test scores, with the shuffled-label refits' curves in grey."""
    ev = _rows(entry)
    if ev is None or "detector" not in ev.conditions():
        return None
    from harness.claims._evidence import paired_column

    ids, scores, y = ev.column("detector")
    if y is None or y.min() == y.max():
        return None
    fig, ax = _figure()
    for c in ev.conditions():
        if c.startswith(("control/", "refit/")):
            fpr, tpr = _roc(paired_column(ev, c, ids)[0], y)
            ax.plot(fpr, tpr, color="grey", alpha=0.4, lw=0.8)
    fpr, tpr = _roc(scores, y)
    ax.plot(fpr, tpr, color="tab:red", lw=1.8, label="detector")
    ax.plot([0, 1], [0, 1], ":", color="black", lw=0.8, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=7)
    return Plot("roc", _save(fig, out, f"{entry.claim_id}-roc.png"),
                "ROC of the detector on the test items; grey: refits on shuffled labels")


def forest(entry: ClaimEntry, out: Path) -> Plot | None:
    """The treatment's interval, each control's interval and the paper's value where the claim records one."""
    r = entry.result
    if r is None:
        return None
    slope = (r.get("details") or {}).get("treatment_slope")
    # slope_minus_control: the headline interval is a difference; the controls are slopes, so the treatment's
    # own slope is drawn beside them (a point: its interval is not recorded)
    rows = [("treatment minus control mean" if slope is not None else "treatment", r["interval"])]
    if slope is not None:
        rows.append(("treatment slope", {"estimate": slope, "low": slope, "high": slope}))
    rows += [(f"{c['kind']} {c['seed']}", c["interval"]) for c in r.get("controls") or []]
    fig, ax = _figure()
    for k, (name, iv) in enumerate(rows):
        color = "tab:blue" if name.startswith("treatment") else "grey"
        ax.errorbar([iv["estimate"]], [k], xerr=[[iv["estimate"] - iv["low"]], [iv["high"] - iv["estimate"]]],
                    fmt="o", color=color, capsize=2, ms=4)
    exp = entry.spec.expected if entry.spec is not None else None
    if exp and "estimate" in exp:  # expected values are in the claim's stored units (after its scale)
        ax.axvline(exp["estimate"], color="tab:green", ls="--", label="paper")
        ax.legend(fontsize=7)
    ax.set_yticks(range(len(rows)), [n for n, _ in rows], fontsize=6 if len(rows) > 12 else 8)
    ax.invert_yaxis()
    ax.locator_params(axis="x", nbins=5)
    ax.set_xlabel("estimate (stored units)")
    return Plot("forest", _save(fig, out, f"{entry.claim_id}-forest.png"),
                "Forest plot: the treatment's interval (blue) and each control run's interval (grey); for a "
                "slope-minus-control claim also the treatment's own slope")


def control_distribution(entry: ClaimEntry, out: Path) -> Plot | None:
    """Histogram of the control estimates with the treatment's estimate marked."""
    r = entry.result
    controls = [float(c["interval"]["estimate"]) for c in (r or {}).get("controls") or []]
    if r is None or len(controls) < 2:
        return None
    # slope_minus_control compares slopes: mark the treatment's slope, not the difference
    slope = (r.get("details") or {}).get("treatment_slope")
    treated = float(slope) if slope is not None else float(r["interval"]["estimate"])
    fig, ax = _figure()
    ax.hist(controls, bins=min(20, max(5, len(controls))), color="grey", alpha=0.7, label="control runs")
    ax.axvline(treated, color="tab:red", lw=2, label="treatment slope" if slope is not None else "treatment")
    ax.locator_params(axis="x", nbins=5)
    ax.set_xlabel("estimate (stored units)")
    ax.set_ylabel("control runs")
    ax.legend(fontsize=7)
    return Plot("controls", _save(fig, out, f"{entry.claim_id}-controls.png"),
                "Distribution of the control runs' estimates; red: the treatment")


PLOTTERS = (dose_response, roc, forest, control_distribution)


def plots_for(entry: ClaimEntry, out: Path) -> list[Plot]:
    """Every plot the claim's result and rows support (none for a claim that was not run)."""
    return [p for fn in PLOTTERS if (p := fn(entry, out)) is not None]
