"""hpt: a local-first hyperparameter tuner.

The Python API (see :mod:`hpt.api`)::

    import hpt
    result = hpt.run("spec.yaml")            # or a dict; returns a JobResult
    result.best.hyperparameters
    hpt.load("job-name")                     # an existing job, read-only
"""

from .errors import HptError, SpecError

__version__ = "0.1.0"

_API = ("run", "resume", "load", "JobResult", "Best")


def __getattr__(name: str):
    # The API pulls in numpy and scikit-learn; `hpt --version` and `import hpt.errors` need not.
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'hpt' has no attribute {name!r}")


__all__ = ["HptError", "SpecError", "__version__", *_API]
