"""WARC files that lie: wrong, missing or absurd Content-Lengths, garbage, cut files and broken
gzip members. Each bad record is one error naming it, its neighbours are kept, and every
document record ends as a document or an error (read == kept + errored, no phantom records)."""

from __future__ import annotations

import gzip
import random
import tracemalloc
from pathlib import Path

import pytest
from test_io_warc import http_response, pages, read_all, record_id, warc_record, write_warc

from textmill.io.base import ReadOptions
from textmill.io.warc import read_warc

COMPRESSIONS = [None, "record", "file"]
BODY = http_response(b"<html><body><p>page 5</p></body></html>")


def with_record_5(block_length: int | str | None, *, count: int = 10) -> list[bytes]:
    """`count` pages whose fifth record declares `block_length` (None: no Content-Length)."""
    records = pages(count)
    record = warc_record("response", BODY, 5)
    declared = f"Content-Length: {len(BODY)}\r\n".encode()
    if block_length is None:
        records[4] = record.replace(declared, b"")
    else:
        records[4] = record.replace(declared, f"Content-Length: {block_length}\r\n".encode())
    return records


def assert_only_record_5_lost(path: str, count: int = 10, **options) -> str:
    docs, errors, skipped, _ = read_all(path, **options)
    kept = [n for n in range(1, count + 1) if n != 5]
    assert docs["id"].to_pylist() == [record_id(n) for n in kept]
    assert len(errors) == 1, errors
    assert errors[0].record.startswith("record 5")
    assert errors[0].file == path
    assert docs.num_rows + len(errors) == count  # no phantom record, none lost
    assert skipped == {}
    return errors[0].message


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("delta", [150, 5, -3, -20, -60])
def test_a_wrong_content_length_costs_only_its_own_record(tmp_path, compression, delta):
    records = with_record_5(len(BODY) + delta)
    message = assert_only_record_5_lost(write_warc(tmp_path, records, compression))
    assert "Content-Length" in message


def test_a_length_that_swallows_the_next_record_exactly_is_caught_by_its_gzip_member(tmp_path):
    records = with_record_5(len(BODY) + 4 + len(pages(1, first=6)[0]))
    assert_only_record_5_lost(write_warc(tmp_path, records, "record"))


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("declared", [None, "abc", "-40", "12 34", "", "9" * 5000, "١٢"], ids=repr)
def test_a_missing_or_unreadable_content_length_is_that_records_error(
    tmp_path, compression, declared
):
    message = assert_only_record_5_lost(write_warc(tmp_path, with_record_5(declared), compression))
    assert "Content-Length" in message


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("declared", [10**9, 10**15, 2**62])
def test_a_huge_content_length_is_never_allocated_and_loses_no_neighbour(
    tmp_path, compression, declared
):
    path = write_warc(tmp_path, with_record_5(declared), compression)
    tracemalloc.start()
    assert_only_record_5_lost(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 32 * 1024 * 1024


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_a_length_over_max_document_bytes_that_lies_loses_no_neighbour(tmp_path, compression):
    path = write_warc(tmp_path, with_record_5(200_000), compression)
    assert_only_record_5_lost(path, max_document_bytes=1000)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_a_true_record_over_the_limit_is_streamed_past_and_reported(tmp_path, compression):
    big = http_response(b"<html><body>" + b"word " * 40_000 + b"</body></html>")
    records = pages(10)
    records[4] = warc_record("response", big, 5)
    message = assert_only_record_5_lost(
        write_warc(tmp_path, records, compression), max_document_bytes=1000
    )
    assert "exceeds max_document_bytes=1,000" in message


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_a_last_record_longer_than_the_file_is_truncated_not_fatal(tmp_path, compression):
    records = pages(5)
    records[4] = warc_record("response", BODY, 5, content_length=len(BODY) + 5000)
    docs, errors, _, _ = read_all(write_warc(tmp_path, records, compression))
    assert docs["id"].to_pylist() == [record_id(n) for n in range(1, 5)]
    assert [e.record.split(" ")[:2] for e in errors] == [["record", "5"]]
    assert "truncated" in errors[0].message


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9])
def test_a_gzip_file_cut_inside_a_member_keeps_every_whole_record(tmp_path, keep):
    members = [gzip.compress(r) for r in pages(4)]
    path = tmp_path / "cut.warc.gz"
    data = b"".join(members)
    path.write_bytes(data[: len(data) - len(members[-1]) + int(keep * len(members[-1]))])
    docs, errors, _, _ = read_all(str(path))
    assert docs["id"].to_pylist() == [record_id(n) for n in (1, 2, 3)]
    assert len(errors) == 1 and errors[0].record.startswith("record 4")


@pytest.mark.parametrize("compression", [None, "file"])
@pytest.mark.parametrize("junk", [b"garbage\r\n", b"\x00" * 3000, b"WARC/ not a header\n"])
def test_garbage_between_records_is_one_error_and_loses_no_record(tmp_path, compression, junk):
    records = pages(6)
    records[3] = junk + records[3]
    docs, errors, _, _ = read_all(write_warc(tmp_path, records, compression))
    assert docs["id"].to_pylist() == [record_id(n) for n in range(1, 7)]
    assert len(errors) == 1
    assert "not a WARC record" in errors[0].message


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("separator", [b"", b"\n", b"\r\n" * 200_000], ids=["none", "lf", "many"])
def test_a_missing_or_odd_blank_line_between_records_is_tolerated(tmp_path, compression, separator):
    records = [r.removesuffix(b"\r\n\r\n") + separator for r in pages(5)]
    docs, errors, _, _ = read_all(write_warc(tmp_path, records, compression))
    assert errors == []
    assert docs["id"].to_pylist() == [record_id(n) for n in range(1, 6)]


def test_a_corrupt_member_header_loses_only_its_record(tmp_path):
    members = [gzip.compress(r) for r in pages(5)]
    damaged = bytearray(members[2])
    damaged[12:20] = b"\xff" * 8  # inside the deflate stream's first block
    members[2] = bytes(damaged)
    path = tmp_path / "damaged.warc.gz"
    path.write_bytes(b"".join(members))
    docs, errors, _, _ = read_all(str(path))
    assert docs["id"].to_pylist() == [record_id(n) for n in (1, 2, 4, 5)]
    assert len(errors) == 1 and errors[0].record.startswith("record 3")
    assert f"offset {len(members[0]) + len(members[1]):,}" in errors[0].record


def test_a_wet_record_with_a_wrong_length_costs_only_itself(tmp_path):
    records = [
        warc_record("conversion", f"Plain text of page {n}.\n".encode(), n) for n in range(1, 7)
    ]
    records[2] = warc_record("conversion", b"Plain text of page 3.\n", 3, content_length=90)
    docs, errors, _, _ = read_all(write_warc(tmp_path, records, "record"))
    assert docs["id"].to_pylist() == [record_id(n) for n in (1, 2, 4, 5, 6)]
    assert docs["text"][0].as_py() == "Plain text of page 1.\n"
    assert len(errors) == 1 and errors[0].record.startswith("record 3")


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_random_damage_never_raises_and_every_error_names_the_file(tmp_path, compression):
    rng = random.Random(18)
    clean = write_warc(tmp_path, pages(12), compression)
    data = Path(clean).read_bytes()
    for case in range(60):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(damaged))
            action = rng.choice(("flip", "insert", "delete", "cut"))
            if action == "flip":
                damaged[at] ^= 1 << rng.randrange(8)
            elif action == "insert":
                damaged[at:at] = rng.randbytes(rng.randint(1, 40))
            elif action == "delete":
                del damaged[at : at + rng.randint(1, 40)]
            else:
                del damaged[at:]
        path = tmp_path / f"case{case}.{'warc.gz' if compression else 'warc'}"
        path.write_bytes(bytes(damaged))
        total = 0
        for batch in read_warc(str(path), ReadOptions(batch_size=5)):
            total += batch.docs.num_rows + len(batch.errors)
            assert all(error.file == str(path) for error in batch.errors)
        assert total <= 12 + 10  # at most one error per damage on top of the records


def test_a_gzip_bomb_body_is_inflated_only_up_to_the_limit(tmp_path):
    bomb = gzip.compress(b"<p>" + b"\0" * 20_000_000)
    http = http_response(bomb, headers=("Content-Encoding: gzip",))
    records = [warc_record("response", http, 1), *pages(1, first=2)]
    path = write_warc(tmp_path, records, None)
    read_all(path)  # imports what reading needs, outside the measurement
    tracemalloc.start()
    docs, errors, _, _ = read_all(path, max_document_bytes=10_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert docs["id"].to_pylist() == [record_id(2)]
    assert len(errors) == 1 and "exceeds max_document_bytes=10,000" in errors[0].message
    assert peak < 8 * 1024 * 1024


@pytest.mark.parametrize("compression", ["gzip", "zstd"])  # bz2 shares zstd's path (and is slow)
def test_a_warc_that_expands_past_the_ratio_limit_is_a_bomb_error(tmp_path, compression):
    import zstandard

    pack = {
        "gzip": lambda data: gzip.compress(data, 9),
        "zstd": lambda data: zstandard.ZstdCompressor(level=3).compress(data),
    }[compression]
    suffix = {"gzip": "gz", "zstd": "zst"}[compression]
    first, last = pages(1)[0], pages(1, first=2)[0]
    path = tmp_path / f"bomb.warc.{suffix}"
    path.write_bytes(pack(first) + pack(b"\r\n" * (40 << 20)) + pack(last))  # 80 MiB of CRLF
    docs, errors, _, _ = read_all(str(path))
    assert docs["id"].to_pylist() == [record_id(1)]
    assert any("decompression bomb" in e.message for e in errors), errors
    docs, errors, _, _ = read_all(str(path), max_compression_ratio=0)  # no limit: all read
    assert docs["id"].to_pylist() == [record_id(1), record_id(2)] and not errors


def test_a_zstd_warc_cut_inside_a_frame_is_an_error_not_a_short_file(tmp_path):
    import zstandard

    data = zstandard.ZstdCompressor().compress(b"".join(pages(10)))
    path = tmp_path / "cut.warc.zst"
    path.write_bytes(data[: len(data) - 30])
    docs, errors, _, _ = read_all(str(path))
    assert errors and "lost: unknown" in errors[-1].message, errors
    assert docs.num_rows < 10
