"""url_dedup: URL normalisation, kept-document rules, documents without URL, determinism."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_global_stage, write_jsonl

from textmill.api import Pipeline
from textmill.document import make_batch
from textmill.stages.dedup.url import UrlDedup, normalize_url


def run_stage(stage: UrlDedup, shards: list[pa.Table], workdir: Path) -> dict[str, str | None]:
    batch, decision, _ = run_global_stage(stage, shards, workdir)
    return dict(zip(batch["id"].to_pylist(), decision.reasons.to_pylist(), strict=True))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a/b/#section", "http://example.com/a/b"),
        ("https://example.com:443/", "https://example.com"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/p?utm_source=feed&id=7&fbclid=abc", "https://example.com/p?id=7"),
        ("https://example.com/p?UTM_Medium=x&gclid=1", "https://example.com/p"),
        ("https://Example.com/Case/Kept", "https://example.com/Case/Kept"),
        ("  ", None),
        (None, None),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_strip_www_and_ignore_scheme_widen_the_match():
    assert normalize_url("http://www.example.com/a") != normalize_url("https://example.com/a")
    assert normalize_url("http://www.example.com/a", strip_www=True, ignore_scheme=True) == (
        normalize_url("https://example.com/a", strip_www=True, ignore_scheme=True)
    )


def test_same_normalised_url_keeps_the_smallest_id(tmp_path):
    batch = make_batch(
        ["c", "a", "b"],
        ["one", "two", "three"],
        urls=["https://site.org/page/", "https://SITE.org/page#top", "https://site.org/other"],
    )
    reasons = run_stage(UrlDedup(), [batch], tmp_path)
    assert reasons == {"c": "duplicate_url_of=a", "a": None, "b": None}


def test_keep_longest_keeps_the_document_with_most_text(tmp_path):
    batch = make_batch(
        ["a", "b", "c"],
        ["short", "a much longer text", "a much longer text"],
        urls=["http://x.org/p", "http://x.org/p?utm_campaign=z", "http://x.org/p/"],
    )
    reasons = run_stage(UrlDedup(keep="longest"), [batch], tmp_path)
    assert reasons == {"a": "duplicate_url_of=b", "b": None, "c": "duplicate_url_of=b"}


def test_documents_without_url_are_kept(tmp_path):
    batch = make_batch(["a", "b", "c"], ["x", "y", "z"], urls=[None, "", None])
    assert run_stage(UrlDedup(), [batch], tmp_path) == {"a": None, "b": None, "c": None}


def test_spilled_partitions_give_the_same_decisions(tmp_path):
    shards = [
        make_batch(
            [f"d{k}-{i:02d}" for i in range(30)],
            ["text"] * 30,
            urls=[f"https://h{i % 9}.org/p" for i in range(30)],
        )
        for k in range(2)
    ]
    in_memory = run_stage(UrlDedup(), shards, tmp_path / "one")
    spilled = run_stage(UrlDedup(rows_per_partition=5), shards, tmp_path / "many")
    assert in_memory == spilled
    assert sum(reason is None for reason in in_memory.values()) == 9
    assert in_memory["d1-00"] == "duplicate_url_of=d0-00"


def test_same_output_whatever_the_worker_count(tmp_path):
    for shard in range(3):
        write_jsonl(
            tmp_path / "in" / f"part-{shard}.jsonl",
            [
                {"id": f"s{2 - shard}-{i}", "text": "t" * i, "url": f"https://a.org/{i % 3}/"}
                for i in range(5)
            ]
            + [{"id": f"nourl-{shard}", "text": "no url"}],
        )
    results = []
    for workers in (1, 2):
        out = tmp_path / f"out-{workers}"
        stats = Pipeline([("url_dedup", {"keep": "longest"})]).run(
            tmp_path / "in", out, workers=workers, batch_size=2, progress=False
        )
        rejects = pq.read_table(out / "rejects").sort_by("id")
        kept = sorted(pq.read_table(out / "data")["id"].to_pylist())
        results.append((kept, rejects["reject_reason"].to_pylist()))
        assert stats["read"] == 18 and stats["kept"] == 6
    assert results[0] == results[1]
    assert results[0][0] == ["nourl-0", "nourl-1", "nourl-2", "s0-2", "s0-3", "s0-4"]
    assert "url_dedup:duplicate_url_of=s0-4" in results[0][1]
