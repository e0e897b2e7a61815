"""How submissions are written in MLflow, named once for every module that writes or reads
them: one experiment per competition (``harness/<id>``), one run per submission with these tags
and metrics::

    tags     harness.participant, harness.kind (submission|baseline), harness.message,
             harness.sha256, harness.file, mlflow.note.content (the message, shown by the UI)
    metrics  public_score, private_score, and extra metrics (``accuracy_public``, …)

Each experiment also carries two tags for MLflow's own UI (:data:`UI_TAGS`; read in MLflow
3.17's front-end bundle, see harness/mlflow_ui.py): ``mlflow.experimentKind`` says it is model
training, not a GenAI app (the value the UI's kind selector writes), and
``mlflow.sharedViewState.harness`` is a saved view of its runs table, the one the URL of
`harness ui <competition>` opens: the ``public_score`` column beside the run names (newest
first, as MLflow sorts). The private score stays out of it: it is hidden until the end.
"""

import json

EXPERIMENT_PREFIX = "harness/"
TAG = "harness."  # the prefix of every tag Harness writes
PUBLIC_SCORE, PRIVATE_SCORE = "public_score", "private_score"
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
VIEW_KEY = "harness"  # the URL's viewStateShareKey
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
#: The view: the UI's own JSON (column keys as it writes them: group.`name`).
VIEW = json.dumps({"selectedColumns": [f"metrics.`{PUBLIC_SCORE}`"]})
UI_TAGS = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND, VIEW_TAG: VIEW}
