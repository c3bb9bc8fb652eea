"""The whole FineWeb job, textmill against datatrove, on the same WARC input, one core each, in
the same run (issue 19).

Input: WARC files the script writes from the real HTML in ../shared/data/web/web_docs.jsonl.gz
and ../shared/data/extraction/* (each page a gzip-member WARC response record with its URL and
declared charset), plus the real WARCs in ../shared/data/web/warc. textmill runs
`textmill run --preset fineweb --workers 1`; datatrove runs examples/fineweb.py's steps
(datatrove_fineweb.py in its own venv). Both pinned to one core, timed in CPU seconds of the
whole process tree. Also timed: only reading the same WARCs with FastWARC, the I/O limit.

    .venv/bin/python benchmarks/fineweb_end_to_end.py [--copies 1] [--engine textmill]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dedup_common import SHARED_DATA, Measured, datatrove_python, run_measured  # noqa: E402

PAGES = [
    SHARED_DATA / "web" / "web_docs.jsonl.gz",
    *sorted((SHARED_DATA / "extraction").glob("*.jsonl.gz")),
]
REAL_WARCS = SHARED_DATA / "web" / "warc"
DATATROVE_EXTRAS = (
    "trafilatura==2.3.1",
    "lxml_html_clean==0.4.6",
    "fasttext-numpy2-wheel==0.9.2",
    "warcio==1.7.5",
    "faust-cchardet==3.2.0",
    "python-magic==0.4.27",
    "pyahocorasick==2.2.0",
    "tldextract==5.3.0",
    "fasteners==0.20",
)
DATE = "2024-05-20T00:00:00Z"
CC_DUMP_PAGES = 3e9  # pages in one Common Crawl dump, the figure
TEXTMILL = [sys.executable, "-m", "textmill"]


def warc_record(url: str, html: str, encoding: str, date: str, index: int) -> bytes:
    """One gzip member: a WARC response record holding an HTTP 200 response with the page."""
    try:
        body = html.encode(encoding or "utf-8")
    except (LookupError, UnicodeEncodeError):
        body, encoding = html.encode("utf-8"), "utf-8"
    http = (
        f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset={encoding or 'utf-8'}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    headers = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:{uuid.UUID(int=index + 1)}>\r\n"
        f"WARC-Date: {date or DATE}\r\nWARC-Target-URI: {url}\r\n"
        "WARC-Identified-Payload-Type: text/html\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return gzip.compress(headers + http + b"\r\n\r\n", compresslevel=6)


def write_warcs(folder: Path, copies: int) -> int:
    """The pages as WARC files in `folder` (one per source file and copy), the real WARCs
    linked beside them; returns the number of generated records."""
    folder.mkdir(parents=True)
    index = 0
    for copy in range(copies):
        for source in PAGES:
            with gzip.open(source, "rt", encoding="utf-8") as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
            rows = [row for row in rows if row.get("html")]
            name = source.name.split(".")[0]
            with open(folder / f"{name}-{copy}.warc.gz", "wb") as out:
                for row in rows:
                    url = row.get("url") or row.get("url_or_path") or f"http://example.org/{index}"
                    if not url.startswith("http"):
                        url = f"http://example.org/{index}/{url}"
                    if copy:
                        url = f"{url}{'&' if '?' in url else '?'}copy={copy}"
                    date = row.get("warc_date") or DATE
                    out.write(warc_record(url, row["html"], row.get("html_encoding"), date, index))
                    index += 1
    for real in sorted(REAL_WARCS.glob("*.warc.gz")):
        (folder / real.name).symlink_to(real)
    return index


def fastwarc_read(folder: Path) -> tuple[float, int, int]:
    """CPU seconds, response records and payload bytes of reading every WARC with FastWARC."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    started, records, payload = time.process_time(), 0, 0
    for path in sorted(folder.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(
                stream, record_types=WarcRecordType.response, parse_http=True
            ):
                payload += len(record.reader.read())
                records += 1
    return time.process_time() - started, records, payload


def fineweb_with_engine(engine: str | None, folder: Path) -> list[str]:
    """`--preset fineweb`, or the same stages with `extract: {engine: ENGINE}` as a file."""
    if engine is None:
        return ["--preset", "fineweb"]
    import yaml

    from textmill.config import preset_text

    preset = yaml.safe_load(preset_text("fineweb"))
    preset["stages"] = [
        {"extract": {"engine": engine}} if "extract" in stage else stage
        for stage in preset["stages"]
    ]
    path = folder / f"fineweb-{engine}.yaml"
    path.write_text(yaml.safe_dump(preset))
    return [str(path)]


def run_textmill(
    folder: Path, out: Path, log: Path, pipeline: list[str]
) -> tuple[Measured, dict, set[str]]:
    command = [*TEXTMILL, "run", *pipeline, str(folder), "-o", str(out)]
    measured = run_measured([*command, "--workers", "1", "--no-progress"], log=log)
    stats = json.loads((out / "stats.json").read_text())
    urls = set()
    for path in sorted((out / "data").glob("*.parquet")):
        urls.update(u for u in pq.read_table(path, columns=["url"])["url"].to_pylist() if u)
    return measured, stats, urls


def ensure_datatrove_extras(python: Path) -> None:
    modules = "trafilatura lxml_html_clean fasttext warcio cchardet magic ahocorasick tldextract"
    check = f"import {', '.join(modules.split())}, fasteners"
    if subprocess.run([str(python), "-c", check], capture_output=True).returncode:
        print(f"installing {' '.join(DATATROVE_EXTRAS)} into the datatrove venv ...", flush=True)
        pip = [str(python), "-m", "pip", "install", "-q", *DATATROVE_EXTRAS]
        subprocess.run(pip, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=1, help="copies of the generated pages")
    parser.add_argument("--engine", help="textmill's extract engine (default: the preset's)")
    args = parser.parse_args()
    if not all(p.exists() for p in (*PAGES, REAL_WARCS)):
        print("../shared/data/web and ../shared/data/extraction are needed; nothing measured")
        return
    from textmill.stages.langid import bundled_lid_model_path

    python = datatrove_python()
    ensure_datatrove_extras(python)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        warcs = work / "warcs"
        generated = write_warcs(warcs, args.copies)
        read_seconds, records, payload = fastwarc_read(warcs)
        mb = payload / 1e6
        print(f"input: {records:,} WARC response records ({generated:,} generated), {mb:.1f} MB")
        print(f"FastWARC read only: {read_seconds:.2f} CPU-s, {records / read_seconds:,.0f} docs/s")
        tiny = work / "tiny"  # start-up: the same commands on a 1-record WARC
        tiny.mkdir()
        with gzip.open(SHARED_DATA / "extraction" / "dragnet_sample100.jsonl.gz", "rt") as handle:
            rows = [json.loads(line) for line in handle]
        english = [row["truth_text"] for row in rows if row.get("lang") == "en"]
        article = sorted(english, key=len)[len(english) // 2]  # clean English prose, median size
        paragraphs = "".join(f"<p>{p}</p>" for p in article.split("\n") if p.strip())
        page = f"<html><head><title>One</title></head><body><article>{paragraphs}</article>"
        record = warc_record("http://example.org/one", page + "</body></html>", "utf-8", "", 0)
        (tiny / "one.warc.gz").write_bytes(record)
        pipeline = fineweb_with_engine(args.engine, work)
        print(
            f"textmill pipeline: {' '.join(pipeline)} (extract engine: {args.engine or 'default'})"
        )
        run_textmill(warcs, work / "warm", work / "warm.log", pipeline)  # numba and page cache
        tm_start, _, _ = run_textmill(tiny, work / "tm-tiny", work / "tm-tiny.log", pipeline)
        tm, stats, tm_urls = run_textmill(warcs, work / "tm", work / "textmill.log", pipeline)

        def datatrove(folder: Path, name: str) -> tuple[Measured, dict]:
            output = work / f"{name}.json"
            command = [str(python), str(Path(__file__).parent / "datatrove_fineweb.py")]
            command += [str(folder), str(work / name), str(output)]
            command += ["--lid", str(bundled_lid_model_path())]
            log = work / f"{name}.log"
            try:
                measured = run_measured(command, env={"PYTHONNOUSERSITE": "1"}, log=log)
            except subprocess.CalledProcessError as failed:
                sys.exit(f"datatrove failed:\n{failed.output}")
            return measured, json.loads(output.read_text())

        dt_start, _ = datatrove(tiny, "dt-tiny")
        dt, result = datatrove(warcs, "dt")
    dt_urls = set(u for u in result["kept_urls"] if u)
    docs = stats["read"]
    print(f"\ntextmill read {docs:,} documents, kept {stats['kept']:,}")
    print("CPU-s: whole command; start-up: the same command on a 1-record WARC; per-document")
    print("rates from the difference (start-up is paid once per task, not per page)")
    steady = {}
    for name, measured, start in (("textmill", tm, tm_start), ("datatrove", dt, dt_start)):
        steady[name] = measured.cpu_seconds - start.cpu_seconds
        rate = docs / steady[name]
        print(
            f"{name:10} {measured.cpu_seconds:7.1f} CPU-s (start-up {start.cpu_seconds:5.1f})  "
            f"{rate:7.1f} docs/s per core  {mb / steady[name]:6.2f} MB/s  "
            f"peak RSS {measured.peak_rss / 2**20:,.0f} MB  "
            f"{CC_DUMP_PAGES / rate / 3600:,.0f} core-hours per 3B-page dump"
        )
    print(
        f"textmill / datatrove per core: {steady['datatrove'] / steady['textmill']:.2f}x "
        f"(whole commands: {dt.cpu_seconds / tm.cpu_seconds:.2f}x)"
    )
    share = read_seconds / steady["textmill"]
    print(f"job rate as a share of the FastWARC read rate: {share:.2%}")
    both = tm_urls & dt_urls
    print(
        f"kept: textmill {len(tm_urls):,}, datatrove {len(dt_urls):,}, both {len(both):,} "
        f"(Jaccard {len(both) / max(1, len(tm_urls | dt_urls)):.3f})"
    )
    print("\ntextmill seconds per stage (stats.json):")
    total = sum(stage["seconds"] for stage in stats["stages"])
    for stage in stats["stages"]:
        print(f"  {stage['name']:18} {stage['seconds']:7.2f}  {stage['seconds'] / total:6.1%}")
    print("datatrove seconds per step (its stats.json; MinHash steps by wall time):")
    for name, seconds in {**result["steps"], **result["wall"]}.items():
        if name != "filtering":
            print(f"  {name:40} {seconds:7.2f}")


if __name__ == "__main__":
    main()
