"""Interventions as reversible hook context managers (neurons, SAE features, directions, ITI) and captures.

Each edit acts in generation and forward scoring alike, is removed on exit (even after an exception) and
registers no hook at its no-op parameter."""

from harness.interventions._capture import capture_site_means
from harness.interventions._direction import diff_of_means, steer_direction
from harness.interventions._iti import ITIResult, capture_heads, fit_iti, iti_shift
from harness.interventions._neurons import scale_neurons, scale_neurons_grouped
from harness.interventions._sae import SAE, load_sae, save_sae, scale_sae_features
from harness.interventions._sae_train import train_sae

__all__ = [
    "SAE",
    "ITIResult",
    "capture_heads",
    "capture_site_means",
    "diff_of_means",
    "fit_iti",
    "iti_shift",
    "load_sae",
    "save_sae",
    "scale_neurons",
    "scale_neurons_grouped",
    "scale_sae_features",
    "steer_direction",
    "train_sae",
]
