"""How submissions are written in MLflow, named once for every module that writes or reads
them: one experiment per competition (``harness/<id>``), one run per submission with these tags
and metrics::

    tags     harness.participant, harness.kind (submission|baseline), harness.message,
             harness.sha256, harness.file, mlflow.note.content (the message, shown by the UI)
    metrics  public_score, private_score, and extra metrics (``accuracy_public``, …)
"""

EXPERIMENT_PREFIX = "harness/"
TAG = "harness."  # the prefix of every tag Harness writes
PUBLIC_SCORE, PRIVATE_SCORE = "public_score", "private_score"
