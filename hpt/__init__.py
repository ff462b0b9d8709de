"""hpt: a local-first hyperparameter tuner."""

__version__ = "0.1.0"
