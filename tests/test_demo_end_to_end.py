"""`textmill demo` on the bundled sample crawl, checked against the sample's manifest."""

import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from textmill.cli import main
from textmill.data import load_sample_manifest

NOISE_KINDS = {"blocked_url", "code", "link_list", "lorem", "non_english", "short", "spam"}


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    assert main(["demo", "-o", str(out), "--workers", "2", "--no-progress"]) == 0
    return out


def test_demo_writes_the_documented_layout_and_reconciles(demo_out):
    for name in ("data", "rejects", "errors", "stats.json"):
        assert (demo_out / name).exists(), name
    stats = json.loads((demo_out / "stats.json").read_text())
    assert stats["read"] == stats["kept"] + stats["rejected"] + stats["errored"]
    assert stats["reconciled"] and stats["read"] > 380
    assert [s["name"] for s in stats["stages"]][:4] == [
        "url_filter",
        "provenance",
        "extract",
        "langid",
    ]
    assert stats["skipped_records"]["warc:request"] > 300
    assert stats["languages"] == {"en": stats["kept"]}


def test_every_noise_page_is_dropped_by_a_stage_meant_for_it(demo_out):
    pages = load_sample_manifest()["pages"]
    rejects = pq.read_table(demo_out / "rejects")
    stage_by_url = dict(
        zip(rejects["url"].to_pylist(), rejects["reject_stage"].to_pylist(), strict=True)
    )
    noise = [p for p in pages if p["kind"].split(":")[0] in NOISE_KINDS]
    assert len(noise) >= 80
    for page in noise:
        assert stage_by_url.get(page["url"]) in page["drop_by"], page["url"]


def test_articles_are_kept_once_and_cleaned(demo_out):
    pages = load_sample_manifest()["pages"]
    kept = pq.read_table(demo_out / "data")
    rejects = pq.read_table(demo_out / "rejects")
    kept_urls = set(kept["url"].to_pylist())
    reason_by_url = dict(
        zip(rejects["url"].to_pylist(), rejects["reject_reason"].to_pylist(), strict=True)
    )
    for page in pages:
        if page["kind"] == "article":
            assert page["url"] in kept_urls or reason_by_url[page["url"]].startswith(
                ("exact_dedup:duplicate_of=", "minhash_dedup:duplicate_of=")
            ), page["url"]
    texts = kept["text"].to_pylist()
    assert len(set(texts)) == len(texts), "exact duplicates survived"
    assert not any("accept all cookies" in t.lower() for t in texts)
    for page in pages:
        pii = page.get("pii")
        if pii and page["url"] in kept_urls:
            text = texts[kept["url"].to_pylist().index(page["url"])]
            assert all(email not in text for email in pii["emails"])
            assert all(ip not in text for ip in pii["public_ips"])
            assert all(ip in text for ip in pii["private_ips"])
    assert "html" not in kept.column_names
    assert pc.min(kept["pii_email"]).as_py() >= 0


def test_outputs_load_in_duckdb(demo_out):
    stats = json.loads((demo_out / "stats.json").read_text())
    con = duckdb.connect()
    kept = con.execute(f"select count(*) from read_parquet('{demo_out}/data/*.parquet')").fetchone()
    rejected = con.execute(
        f"select count(*) from read_parquet('{demo_out}/rejects/*.parquet')"
    ).fetchone()
    assert kept[0] == stats["kept"] and rejected[0] == stats["rejected"]


def test_each_article_and_its_copies_leave_exactly_one_document(demo_out):
    pages = load_sample_manifest()["pages"]
    kept_urls = set(pq.read_table(demo_out / "data")["url"].to_pylist())
    groups: dict[str, list[str]] = {}
    for page in pages:
        kind, _, original = page["kind"].partition(":")
        if kind == "article":
            groups.setdefault(page["url"], []).append(page["url"])
        elif kind in ("exact_dup_of", "near_dup_of"):
            groups.setdefault(original, []).append(page["url"])
    assert len(groups) == 250
    for original, urls in groups.items():
        assert sum(url in kept_urls for url in urls) == 1, original


def test_the_readmes_quality_classifier_example_ranks_kept_above_filtered(
    demo_out, tmp_path, monkeypatch
):
    """README "A worked example on the bundled sample", run as written: the classifier's scores
    must spread and rank what the filters kept above what they dropped (they once all lay in
    0.4997–0.5005)."""
    import re
    import shlex
    import subprocess

    fasttext = pytest.importorskip("fasttext")
    if not hasattr(fasttext, "train_supervised"):
        pytest.skip("fasttext build cannot train")
    from textmill.quality.classifier import roc_auc

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    example = readme.split("A worked example on the bundled sample", 1)[1]
    block = re.search(r"```bash\n(.*?)```", example, re.S).group(1)
    sample = Path(__file__).resolve().parents[1] / "textmill" / "data" / "sample.warc.gz"
    monkeypatch.chdir(tmp_path)
    ran = []
    for line in block.splitlines():
        line = line.split("  # ")[0].replace("demo-out", str(demo_out))
        line = line.replace("textmill/data/sample.warc.gz", str(sample))
        if line.startswith("printf "):
            subprocess.run(["bash", "-c", line], check=True)
        elif line.startswith(("textmill quality train", "textmill run")):
            args = shlex.split(line)[1:]
            assert main(args + ["--no-progress"] * (args[0] == "run")) == 0
            ran.append(args[0])
    assert ran == ["quality", "run"]
    held_out = json.loads((tmp_path / "quality.metrics.json").read_text())
    assert held_out["auc"] >= 0.85

    scored = pq.read_table(tmp_path / "scored" / "data", columns=["id", "quality_score"])
    score_of = dict(zip(*scored.to_pydict().values(), strict=True))
    values = np.array(list(score_of.values()), dtype=float)
    assert values.max() - values.min() > 0.8 and values.std() > 0.2
    kept = set(pq.read_table(demo_out / "data", columns=["id"])["id"].to_pylist())
    rejects = pq.read_table(demo_out / "rejects", columns=["id", "reject_stage"])
    filtered = {  # dropped for their content (dedup's drops are copies of kept pages)
        doc_id
        for doc_id, stage in zip(*rejects.to_pydict().values(), strict=True)
        if stage in ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality")
    }
    good = [score_of[i] for i in kept if i in score_of]
    bad = [score_of[i] for i in filtered if i in score_of]
    assert len(good) > 200 and len(bad) > 40
    labels = np.r_[np.ones(len(good)), np.zeros(len(bad))]
    assert roc_auc(labels, np.r_[good, bad]) >= 0.9
    assert np.median(good) - np.median(bad) > 0.5
