"""harness: executable, test-driven verification of mechanistic-interpretability claims."""

__version__ = "0.1.0"
