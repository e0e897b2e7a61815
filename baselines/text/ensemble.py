"""The ensemble AUC rewards: the classical NB-SVM and the fine-tuned Transformer, their scores
rank-averaged with a weight chosen on a blend slice of the training rows (never the local test,
never the validation slice the tuner scores). Both members train on the rest of the rows, each
with the best params of its own study when one was tuned in this HARNESS_HOME (``harness tune
sentiment --model nbsvm``), else its defaults.

measured: not yet. It needs a GPU, and no session has been lent one (bench/RESULTS.md §7 has
the call that measures it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness.baselines import Baseline, register
from harness.baselines.data import split_rows, take

from harness.competition import Competition
from harness.settings import Settings

# ----------------------------------------------------------------------------------------------
# Defaults (no search: the members bring their own tuned settings)
# ----------------------------------------------------------------------------------------------
DEFAULTS: dict[str, Any] = {
    "classical": "nbsvm",
    "transformer": "minilm",
    "blend": 0.1,  # fraction of the training rows that chooses the weight
}
WEIGHTS = np.linspace(0.0, 1.0, 21)  # the Transformer's share of the rank average


def space(trial: Any) -> dict[str, Any]:
    return dict(DEFAULTS)


def ranks(scores: np.ndarray) -> np.ndarray:
    """Scores as ranks scaled to [0, 1] (ties share their mean rank)."""
    from scipy.stats import rankdata

    return (rankdata(scores) - 1) / max(1, len(scores) - 1)


class Ensemble:
    def __init__(self, classical: Any, transformer: Any, blend: float, seed: int) -> None:
        self.classical, self.transformer, self.blend, self.seed = (
            classical,
            transformer,
            blend,
            seed,
        )
        self.weight = 0.5
        self.train_seconds = 0.0

    def fit(
        self,
        x: Any,
        y: np.ndarray,
        *,
        rows: np.ndarray | None = None,
        valid: np.ndarray | None = None,
        report: Callable[[int, np.ndarray], None] | None = None,
    ) -> Ensemble:
        from sklearn.metrics import roc_auc_score

        y = np.asarray(y)
        rows = np.arange(len(y)) if rows is None else np.asarray(rows)
        kept, blend = split_rows(rows, y, self.blend, self.seed)
        self.classical.fit(take(x, kept), y[kept])
        self.transformer.fit(x, y, rows=kept)
        self.train_seconds = self.transformer.train_seconds
        a = ranks(self.classical.predict_proba(take(x, blend))[:, 1])
        b = ranks(self.transformer.predict_proba(x, blend)[:, 1])
        aucs = [roc_auc_score(y[blend], (1 - w) * a + w * b) for w in WEIGHTS]
        self.weight = float(WEIGHTS[int(np.argmax(aucs))])
        if valid is not None and report is not None:
            report(1, self.predict_proba(x, valid))
        return self

    def _scores(self, x: Any, rows: np.ndarray | None = None) -> np.ndarray:
        part = x if rows is None else take(x, rows)
        a = ranks(self.classical.predict_proba(part)[:, 1])
        b = ranks(self.transformer.predict_proba(x, rows)[:, 1])
        return np.asarray((1 - self.weight) * a + self.weight * b)

    def predict_proba(self, x: Any, rows: np.ndarray | None = None) -> np.ndarray:
        score = self._scores(x, rows)
        return np.column_stack([1 - score, score])

    def predict(self, x: Any) -> np.ndarray:
        return (self._scores(x) >= 0.5).astype(int)


@register(
    "ensemble",
    defaults=DEFAULTS,
    space=space,
    summary="NB-SVM + fine-tuned MiniLM, rank-averaged with a weight chosen on a blend slice",
    holdout=0.1,
    options=frozenset({"device", "checkpoint", "compile", "progress", "settings"}),
    requires=("torch", "transformers"),  # its Transformer member's
    extra="text",
)
def build(
    params: dict[str, Any],
    comp: Competition,
    columns: Any,
    seed: int,
    settings: Settings | None = None,
    **options: Any,
) -> Ensemble:
    from harness.baselines import get_baseline

    classical = get_baseline(comp, params["classical"])
    transformer = get_baseline(comp, params["transformer"])
    return Ensemble(
        classical.build(tuned(classical, comp, settings), comp, columns, seed),
        transformer.build(tuned(transformer, comp, settings), comp, columns, seed, **options),
        float(params["blend"]),
        seed,
    )


def tuned(member: Baseline, comp: Competition, settings: Settings | None) -> dict[str, Any]:
    """The member's best params from its default study (``harness tune <comp> --model <member>``
    in this HARNESS_HOME), else its defaults."""
    import optuna
    from harness.baselines.tracking import best_trial
    from harness.baselines.tune import study_storage

    if settings is None or not settings.optuna_journal(comp.id).is_file():
        return member.defaults
    try:
        study = optuna.load_study(
            study_name=f"{comp.id}-{member.name}", storage=study_storage(settings, comp, None)
        )
    except KeyError:  # no such study
        return member.defaults
    best = best_trial(study)
    if best is None:
        return member.defaults
    return member.space(optuna.trial.FixedTrial(dict(best.params)))  # type: ignore[arg-type]
