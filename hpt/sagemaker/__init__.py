"""Amazon SageMaker compatibility: a tuning-job request in and out
(:mod:`~hpt.sagemaker.request`: ``hpt import sagemaker``, ``hpt export --format sagemaker``)
and script mode in trials (:mod:`~hpt.sagemaker.script_mode`: the SM_* environment)."""
