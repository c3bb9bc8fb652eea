"""WARC reading speed: textmill's reader (its own framing, every Content-Length checked, HTTP
parsed, charset decoded) against FastWARC's ArchiveIterator (C++ framing and HTTP parsing,
payload read) on the same files in the same run. CPU seconds, best of N.

    .venv/bin/python benchmarks/warc_reading.py [--copies 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType

from textmill.cli import sample_path
from textmill.io.base import ReadOptions
from textmill.io.warc import read_warc


def textmill_read(path: str) -> int:
    return sum(batch.docs.num_rows for batch in read_warc(path, ReadOptions()))


def fastwarc_read(path: str) -> int:
    documents = 0
    with open(path, "rb") as stream:
        for record in ArchiveIterator(
            stream, record_types=WarcRecordType.response, parse_http=True
        ):
            record.reader.read()
            documents += 1
    return documents


def best_cpu(read, path: str, repeat: int) -> tuple[float, int]:
    times, documents = [], 0
    for _ in range(repeat):
        started = time.process_time()
        documents = read(path)
        times.append(time.process_time() - started)
    return min(times), documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=20, help="sample copies in the big file")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sample = sample_path()
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "sample-x.warc.gz"
        big.write_bytes(sample.read_bytes() * args.copies)  # gzip members concatenate
        plain = Path(folder) / "sample.warc"
        plain.write_bytes(gzip.decompress(sample.read_bytes()))
        files = [
            (f"sample.warc.gz ({sample.stat().st_size / 1e6:.1f} MB)", str(sample)),
            (f"sample x {args.copies} ({big.stat().st_size / 1e6:.1f} MB)", str(big)),
            (f"sample, plain ({plain.stat().st_size / 1e6:.1f} MB)", str(plain)),
        ]
        print(f"{'file':<28}{'textmill s':>12}{'fastwarc s':>12}{'ratio':>8}  documents")
        for label, path in files:
            ours, docs = best_cpu(textmill_read, path, args.repeat)
            peer, peer_docs = best_cpu(fastwarc_read, path, args.repeat)
            print(
                f"{label:<28}{ours:>12.3f}{peer:>12.3f}{ours / peer:>7.2f}x  {docs} / {peer_docs}"
            )


if __name__ == "__main__":
    main()
