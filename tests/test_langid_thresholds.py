"""langid_thresholds: τ per language from the run's own scores, fixed languages, rare ones."""

import numpy as np
import pyarrow as pa
import yaml
from conftest import run_global_stage

from textmill.api import Pipeline
from textmill.document import make_batch
from textmill.lang.thresholds import language_score_threshold
from textmill.stages.langid_thresholds import LangidThresholds


def scored(prefix: str, lang: str, scores) -> pa.Table:
    ids = [f"{prefix}{i:03d}" for i in range(len(scores))]
    batch = make_batch(ids, ["text"] * len(scores))
    batch = batch.append_column("lang", pa.array([lang] * len(scores)))
    return batch.append_column("lang_score", pa.array(scores, pa.float32()))


def test_each_language_is_cut_at_its_own_median_minus_sigma(tmp_path):
    rng = np.random.default_rng(0)
    fr = np.clip(rng.normal(0.8, 0.1, 40), 0, 1).astype(np.float32)
    en = np.linspace(0.5, 1.0, 30).astype(np.float32)
    sw = np.full(5, 0.31, np.float32)  # too few documents for a threshold of their own
    shards = [scored("fr", "fr", fr[:20]), scored("f2", "fr", fr[20:]), scored("en", "en", en)]
    shards.append(scored("sw", "sw", sw))
    stage = LangidThresholds(
        LangidThresholds.Options(fixed={"en": 0.65}, write_thresholds=str(tmp_path / "t.yaml"))
    )
    batch, decision, _ = run_global_stage(stage, shards, tmp_path)
    tau = language_score_threshold(fr.astype(np.float64))
    assert 0.6 < tau < 0.75
    reasons = dict(zip(batch["id"].to_pylist(), decision.reasons.to_pylist(), strict=True))
    scores = dict(zip(batch["id"].to_pylist(), batch["lang_score"].to_pylist(), strict=True))
    for doc, reason in reasons.items():
        limit = {"fr": tau, "f2": tau, "en": 0.65, "sw": 0.0}[doc[:2]]
        lang = "fr" if doc.startswith("f") else doc[:2]
        assert reason == (f"low_language_score={lang}" if scores[doc] < limit else None), doc
    assert sum(r is not None for r in reasons.values()) >= 5
    written = yaml.safe_load((tmp_path / "t.yaml").read_text())
    assert written == {"en": 0.65, "fr": round(tau, 4)}


def test_it_runs_after_langid_in_a_pipeline_and_reconciles(tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [
        "The river runs past the old mill and the children walk to school in the morning.",
        "Le fleuve passe devant le vieux moulin et les enfants vont à l'école le matin.",
    ]
    source.write_text(
        "".join(f'{{"id": "d{i:02d}", "text": "{lines[i % 2]} {i}"}}\n' for i in range(40))
    )
    pipeline = Pipeline(["langid", ("langid_thresholds", {"min_documents": 5})])
    stats = pipeline.run(source, tmp_path / "out", workers=1, progress=False)
    assert stats["read"] == stats["kept"] + stats["rejected"] + stats["errored"] == 40
