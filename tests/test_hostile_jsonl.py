"""Hostile line-oriented input: cut or corrupt compressed streams, records that Python's JSON
decoder or Arrow choke on, BOMs, over-long lines and decompression bombs. Each is an error
naming its file and position, never the run's end, and the counts reconcile."""

import bz2
import gzip
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard
from conftest import reconciled_run

from textmill.cli import main
from textmill.io import Shard, read_shard
from textmill.io.base import ReadOptions
from textmill.io.jsonl import read_jsonl

MiB = 1024 * 1024


def records(n: int) -> bytes:
    """n JSONL documents of varied text (so that zstd makes several blocks of them)."""
    return b"".join(
        json.dumps({"id": f"d{i}", "text": f"document {i} " + "word " * (i % 37)}).encode() + b"\n"
        for i in range(n)
    )


def read(path: Path, **options) -> tuple[list[str], list]:
    ids, errors = [], []
    for batch in read_jsonl(str(path), ReadOptions(**options)):
        ids += batch.docs["id"].to_pylist()
        errors += batch.errors
    return ids, errors


def run(inputs: Path, out: Path, **settings) -> tuple[dict, list[dict]]:
    return reconciled_run(["normalize"], [inputs], out, workers=1, **settings)


def zstd_block_ends(frame: bytes) -> list[int]:
    """Offsets where each block of a one-frame zstd stream ends (RFC 8878, section 3.1.1)."""
    descriptor = frame[4]
    fcs_flag, single_segment, dict_flag = descriptor >> 6, descriptor >> 5 & 1, descriptor & 3
    position = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag]
    position += (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    ends = []
    while True:
        header = int.from_bytes(frame[position : position + 3], "little")
        size = 1 if (header >> 1) & 3 == 1 else header >> 3  # an RLE block holds one byte
        position += 3 + size
        ends.append(position)
        if header & 1:
            return ends


def complete_lines(decoder, data: bytes) -> int:
    """How many whole lines a streaming decoder gets from `data` before it runs out."""
    return decoder.decompress(data).count(b"\n")


def assert_stream_error(errors: list, path: Path, lines_read: int) -> None:
    assert len(errors) == 1, errors
    error = errors[0]
    assert error.file == str(path)
    assert error.record == (f"after line {lines_read:,}" if lines_read else "from the start")
    assert "lost: unknown" in error.message and "invalid JSON" not in error.message


# ---------------------------------------------------------------- decoder ends


def test_zstd_cut_at_every_block_boundary_or_inside_a_block_is_an_error(tmp_path):
    data = records(6000)
    frame = zstandard.ZstdCompressor(level=1).compress(data)
    block_ends = zstd_block_ends(frame)
    assert len(block_ends) >= 3 and block_ends[-1] == len(frame)
    cuts = [*block_ends[:-1], *(end - 7 for end in block_ends), len(frame) - 1, 6]
    path = tmp_path / "cut.jsonl.zst"
    for cut in cuts:
        path.write_bytes(frame[:cut])
        ids, errors = read(path)
        expected = complete_lines(zstandard.ZstdDecompressor().decompressobj(), frame[:cut])
        assert expected < 6000 and (expected > 0 or cut < block_ends[0])
        assert ids == [f"d{i}" for i in range(expected)], cut  # what came before is kept
        assert_stream_error(errors, path, len(ids))


def test_zstd_frames_skippable_frames_and_bad_endings(tmp_path):
    one, two = records(300), records(200)
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    skippable = (0x184D2A50).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"
    path = tmp_path / "x.jsonl.zst"
    path.write_bytes(compressor.compress(one) + skippable + compressor.compress(two))
    ids, errors = read(path)
    assert len(ids) == 500 and errors == []

    corrupt = bytearray(compressor.compress(one))
    corrupt[len(corrupt) // 2] ^= 0xFF
    for bad in (bytes(corrupt), compressor.compress(one) + b"trailing garbage"):
        path.write_bytes(bad)
        ids, errors = read(path)
        assert len(errors) == 1 and "lost: unknown" in errors[0].message
        assert "invalid JSON" not in errors[0].message


@pytest.mark.parametrize("suffix", ["gz", "bz2"])
def test_gzip_and_bz2_cut_short_are_an_error_after_the_last_line_read(tmp_path, suffix):
    compress, decoder = {
        "gz": (gzip.compress, lambda: zlib.decompressobj(31)),
        "bz2": (bz2.compress, bz2.BZ2Decompressor),
    }[suffix]
    data = compress(records(30000))
    path = tmp_path / f"cut.jsonl.{suffix}"
    for cut in (len(data) // 3, len(data) - 5, 10):
        path.write_bytes(data[:cut])
        ids, errors = read(path)
        expected = complete_lines(decoder(), data[:cut])
        assert expected > 0 or cut == 10  # a cut trailer loses no line, but is an error
        assert ids == [f"d{i}" for i in range(expected)]
        assert_stream_error(errors, path, len(ids))


def test_a_cut_zstd_file_in_a_run_keeps_what_was_read_and_reconciles(tmp_path):
    data = zstandard.ZstdCompressor().compress(records(8000))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.jsonl.zst").write_bytes(data[: len(data) // 2])
    (tmp_path / "in" / "good.jsonl").write_bytes(records(10))
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert 10 < stats["kept"] < 8010 and len(errors) == 1
    assert errors[0]["file"].endswith("cut.jsonl.zst")
    assert errors[0]["record"].startswith("after line ")


# ---------------------------------------------------------------- one record, not the run


HOSTILE_LINES = {
    "surrogate": b'{"id": "s", "text": "half an emoji \\ud83d"}',
    "low surrogate in metadata": b'{"id": "m", "text": "ok", "tag": "\\udc00"}',
    "surrogate in id": b'{"id": "\\ud800", "text": "ok"}',
    "deep array": b'{"id": "a", "text": "x", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep object": b'{"text": "x", "d": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
    "huge integer id": b'{"id": ' + b"7" * 5000 + b', "text": "x"}',
    "huge integer": b'{"text": "x", "n": -' + b"9" * 100_000 + b"}",
}


def test_records_python_or_arrow_cannot_take_are_their_lines_errors(tmp_path):
    good = b'{"id": "pair", "text": "a whole emoji \\ud83d\\ude00 and an escaped \\\\ud800"}'
    (tmp_path / "in").mkdir()
    body = b"\n".join([b'{"id": "first", "text": "ok"}', *HOSTILE_LINES.values(), good])
    (tmp_path / "in" / "hostile.jsonl").write_bytes(body + b"\n")
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert stats["kept"] == 2 and stats["errored"] == len(HOSTILE_LINES)
    assert [e["record"] for e in errors] == [f"line {i + 2}" for i in range(len(HOSTILE_LINES))]
    messages = dict(zip(HOSTILE_LINES, (e["message"] for e in errors), strict=True))
    assert "lone UTF-16 surrogate \\ud83d" in messages["surrogate"]
    assert "\\udc00" in messages["low surrogate in metadata"]
    assert "nested too deeply" in messages["deep array"]
    assert "4300" in messages["huge integer id"]
    kept = pq.read_table(tmp_path / "out" / "data").to_pylist()
    assert sorted(row["id"] for row in kept) == ["first", "pair"]
    assert "\U0001f600" in next(row["text"] for row in kept if row["id"] == "pair")


def test_a_row_arrow_refuses_at_flush_is_that_rows_error_not_the_batchs():
    from textmill.io.base import BatchBuilder

    batch = BatchBuilder("f.jsonl", ReadOptions())
    batch.add("one", text="fine")
    batch.add("two", text="bad \ud800")  # a reader that forgot to check
    batch.add("three", text="fine too")
    read = batch.flush()
    assert read.docs["id"].to_pylist() == ["one", "three"]
    assert len(read.errors) == 1 and "'two'" in read.errors[0].record


def test_an_exception_escaping_a_reader_ends_only_its_file(tmp_path, monkeypatch):
    import textmill.io.jsonl as jsonl

    real = jsonl.read_jsonl

    def breaks_after_one_batch(path, options):
        batches = real(path, options)
        yield next(batches)
        if "bad" in path:
            raise RuntimeError("a bug no test foresaw")
        yield from batches

    monkeypatch.setattr(jsonl, "read_jsonl", breaks_after_one_batch)
    (tmp_path / "in").mkdir()
    for name in ("a.jsonl", "bad.jsonl"):
        (tmp_path / "in" / name).write_bytes(records(25))
    paths = tuple(str(tmp_path / "in" / name) for name in ("bad.jsonl", "a.jsonl"))
    shard = Shard("s", "jsonl", paths, 0, 0)
    batches = list(read_shard(shard, ReadOptions(batch_size=10)))
    assert sum(b.docs.num_rows for b in batches) == 35
    (error,) = [e for b in batches for e in b.errors]
    assert error.file.endswith("bad.jsonl") and error.record == "after record 10"
    assert "RuntimeError: a bug no test foresaw" in error.message
    assert "lost: unknown" in error.message
    stats, errors = run(tmp_path / "in", tmp_path / "out", batch_size=10)
    assert stats["kept"] == 35 and len(errors) == 1


# ---------------------------------------------------------------- BOMs


def test_a_utf8_bom_is_accepted_in_jsonl_text_and_html_files(tmp_path):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bom.jsonl").write_bytes(bom + records(3) + bom + records(1))
    (tmp_path / "in" / "bom_blank.jsonl").write_bytes(bom + b"\n" + records(1))
    (tmp_path / "in" / "bom.txt").write_bytes(bom + b"Ein ganz normaler Text.")
    html = "<html><body><p>Un texte tout à fait normal.</p></body></html>"
    (tmp_path / "in" / "bom.html").write_bytes(bom + html.encode())
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert errors == [] and stats["kept"] == 7
    texts = pq.read_table(tmp_path / "out" / "data")["text"].to_pylist()
    assert not any(t.startswith("\ufeff") for t in texts if t)


# ---------------------------------------------------------------- long lines and bombs


def test_an_over_long_line_is_its_error_and_the_next_line_is_read(tmp_path):
    path = tmp_path / "long.jsonl"
    long = json.dumps({"id": "long", "text": "x" * 5000}).encode()
    exact = json.dumps({"id": "exact", "text": "y" * 980}).encode()
    last = json.dumps({"id": "last", "text": "z"}).encode()  # no final newline
    path.write_bytes(b"\n".join([exact, long, long + long, last]))
    ids, errors = read(path, max_document_bytes=len(exact))
    assert ids == ["exact", "last"]
    assert [e.record for e in errors] == ["line 2", "line 3"]
    assert f"{len(long):,} bytes" in errors[0].message
    assert f"{2 * len(long):,} bytes" in errors[1].message


def zeros(compression: str, size: int) -> bytes:
    """`size` zero bytes: one zstd frame (the decoder's worst case), or gzip members and bz2
    streams of 1 MiB each (as fast to decode as one, much faster to make)."""
    if compression == "zst":
        encoder = zstandard.ZstdCompressor().compressobj()
        return b"".join(encoder.compress(bytes(MiB)) for _ in range(size // MiB)) + encoder.flush()
    compress = gzip.compress if compression == "gz" else bz2.compress
    return compress(bytes(MiB)) * (size // MiB)


PEAK_RSS = """
import resource, sys
from textmill.io.base import ReadOptions
from textmill.io.jsonl import read_jsonl
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
options = ReadOptions(max_compression_ratio=0)
errors = [e.message for batch in read_jsonl(sys.argv[1], options) for e in batch.errors]
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, *errors, sep="\\n")
"""


@pytest.mark.parametrize("compression", ["gz", "zst", "bz2"])
def test_a_200_mib_bomb_with_no_newline_is_read_in_bounded_memory(tmp_path, compression):
    path = tmp_path / f"bomb.jsonl.{compression}"
    path.write_bytes(zeros(compression, 200 * MiB))
    assert path.stat().st_size < 250_000
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    grown_mib, *messages = result.stdout.splitlines()
    assert int(grown_mib) < 100, result.stdout  # lines are read by max_document_bytes (16 MiB)
    assert messages == ["document of 209,715,200 bytes exceeds max_document_bytes=16,777,216"]
    ids, errors = read(path)  # the ratio limit stops it after 64 MiB
    assert ids == [] and len(errors) == 1 and errors[0].record == "from the start"
    assert "more than 100x its size" in errors[0].message
    assert "lost: unknown" in errors[0].message


def test_the_ratio_limit_is_a_setting_from_the_cli_and_python(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bomb.jsonl.gz").write_bytes(zeros("gz", 80 * MiB))
    (tmp_path / "in" / "bomb.txt.gz").write_bytes(zeros("gz", 80 * MiB))
    (tmp_path / "in" / "good.jsonl.gz").write_bytes(gzip.compress(records(5)))
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert stats["kept"] == 5 and len(errors) == 2
    assert all("more than 100x" in e["message"] for e in errors)
    stats, errors = run(tmp_path / "in", tmp_path / "out2", max_compression_ratio=0)
    assert stats["kept"] == 5 and len(errors) == 2
    assert all("exceeds max_document_bytes" in e["message"] for e in errors)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - normalize: {}\n")
    argv = ["run", str(pipeline), str(tmp_path / "in"), "-o", str(tmp_path / "out3")]
    assert main([*argv, "--no-progress", "-w", "1", "--max-compression-ratio", "2000"]) == 0
    stats = json.loads((tmp_path / "out3" / "stats.json").read_text())
    assert stats["errored"] == 2 and stats["kept"] == 5
    assert main([*argv, "--max-compression-ratio", "-1"]) == 2  # refused by RunSettings


def test_ray_reads_hostile_input_as_the_local_executor_does(tmp_path, local_ray):
    from textmill.executors.local import LocalExecutor, RunSettings
    from textmill.executors.ray import RayExecutor

    (tmp_path / "in").mkdir()
    body = b"\n".join([b'{"id": "first", "text": "ok"}', *HOSTILE_LINES.values()])
    (tmp_path / "in" / "hostile.jsonl").write_bytes(body + b"\n")
    data = zstandard.ZstdCompressor().compress(records(8000))
    (tmp_path / "in" / "cut.jsonl.zst").write_bytes(data[: len(data) // 2])
    settings = RunSettings(workers=2, progress=False)
    inputs = [str(tmp_path / "in")]
    local = LocalExecutor([("normalize", {})], settings).run(inputs, tmp_path / "local")
    ray = RayExecutor([("normalize", {})], settings).run(inputs, tmp_path / "ray")
    assert ray["reconciled"] and ray["errored"] == len(HOSTILE_LINES) + 1
    for key in ("read", "kept", "rejected", "errored"):
        assert ray[key] == local[key]
