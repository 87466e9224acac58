"""Detectors: sparse L1 probes on CETT features and surface baselines (sklearn imported inside functions)."""

from harness.detectors._l1 import DEFAULT_C_GRID, DetectorResult, fit_l1_detector, fit_length_baseline

__all__ = ["DEFAULT_C_GRID", "DetectorResult", "fit_l1_detector", "fit_length_baseline"]
