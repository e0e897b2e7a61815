"""How submissions are written in MLflow, named once for every module that writes or reads
them: one experiment per competition (``harness/<id>``), one run per submission with these tags
and metrics::

    tags     harness.participant, harness.kind (submission|baseline), harness.message,
             harness.sha256, harness.file, mlflow.note.content (the message, shown by the UI)
    metrics  public_score, private_score, and extra metrics (``accuracy_public``, …)

Every tag name Harness writes or reads is spelled here and only here.

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
CV_SCORE = "cv_score"  # the participant's own cross-validated score
LADDER_SCORE = "ladder_score"  # the score the ladder showed after a submission

# -- a submission run's tags -------------------------------------------------------------------
PARTICIPANT_TAG = f"{TAG}participant"
KIND_TAG = f"{TAG}kind"  # submission, baseline or selection; its presence marks harness's runs
MESSAGE_TAG = f"{TAG}message"
SHA256_TAG = f"{TAG}sha256"  # of the submitted file
FILE_TAG = f"{TAG}file"  # the file's name as the participant gave it
ARTIFACT_TAG = f"{TAG}artifact"  # the artifact's name, where it is not the file's (uploads)
PREPARATION_TAG = f"{TAG}preparation"  # the sha256 of the answers an entry was scored on
SWEPT_TAG = f"{TAG}swept"  # why a RUNNING submission run was marked FAILED
STATUS_TAG = f"{TAG}status"  # "error" on an invalid submission's run
ERROR_TAG = f"{TAG}error"  # the validator's message
LATE_TAG = f"{TAG}late"  # "true": submitted after the end
SELECTS_TAG = f"{TAG}selects"  # a selection event: the run id it selects or unselects
SELECTED_TAG = f"{TAG}selected"  # "true" or "false"
LADDER_TAG = f"{TAG}ladder"  # "accepted" or "held", in ladder mode
CODE_TAG = f"{TAG}code"  # a code submission: the script's or notebook's name
JOB_TAG = f"{TAG}job"  # a queued code submission's job id (the hosted queue)
RUNTIME_TAG = f"{TAG}runtime"  # a code submission's run on the test, rounded ("under 2 min")
NOTE_TAG = "mlflow.note.content"  # the run's description in the MLflow UI

KEEP = "keep"  # a rule a change leaves as it is (None clears a limit or a deadline)

#: What a records row says of its run: ``status`` is complete (a scored entry), error (an
#: invalid file, recorded with its message) or selection (a final-selection event).
COMPLETE, ERROR, SELECTION = "complete", "error", "selection"

# -- an experiment's tags (the competition and its rules) -------------------------------------
COMPETITION_TAG = f"{TAG}competition"
RULE = f"{TAG}rules."  # harness.rules.daily_limit, … .deadline, …
REVEALED_TAG = f"{TAG}revealed_at"  # ISO time the host ended the competition
GRADED_TAG = f"{TAG}graded_at"  # ms: when private scores were last added to finished runs
TEAM = f"{TAG}team."  # harness.team.<key>: one team's JSON (name, members, code, requests)

# -- a tuning study's runs ---------------------------------------------------------------------
STUDY_TAG = f"{TAG}study"  # the parent run of a study
MODEL_TAG = f"{TAG}model"
TRIAL_TAG = f"{TAG}trial"
STATE_TAG = f"{TAG}state"
PRUNED_AT_TAG = f"{TAG}pruned_at"
PARENT_TAG = "mlflow.parentRunId"  # a nested run's parent (a trial's study)

# -- an experiment's tags for MLflow's own UI -------------------------------------------------
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
VIEW_KEY = "harness"  # the URL's viewStateShareKey
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
#: The view: the UI's own JSON (column keys as it writes them: group.`name`).
VIEW = json.dumps({"selectedColumns": [f"metrics.`{PUBLIC_SCORE}`"]})
UI_TAGS = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND, VIEW_TAG: VIEW}
