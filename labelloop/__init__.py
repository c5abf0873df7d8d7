"""labelloop: data labeling with the active-learning loop built in."""

__version__ = "0.1.0"
__all__ = ["__version__"]
