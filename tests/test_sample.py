"""The bundled sample crawl: deterministic, up to date, a valid WARC, and true to its manifest."""

from __future__ import annotations

import base64
import collections
import gzip
import hashlib
import json
import zlib
from pathlib import Path

import pytest
from fastwarc.warc import ArchiveIterator, WarcRecordType

from textmill.data import SAMPLE_MANIFEST_PATH, SAMPLE_WARC_PATH, load_sample_manifest
from textmill.data.make_sample import write_sample


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample generated now, into a temporary directory."""
    out = tmp_path_factory.mktemp("sample")
    write_sample(out / "sample.warc.gz")
    return out / "sample.warc.gz", out / "sample_manifest.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return load_sample_manifest()


def _gzip_members(data: bytes) -> list[bytes]:
    """Each gzip member decompressed on its own, as a Common Crawl reader would seek to them."""
    members = []
    while data:
        inflater = zlib.decompressobj(wbits=31)
        members.append(inflater.decompress(data))
        data = inflater.unused_data
    return members


def _warc_headers(record: bytes) -> tuple[dict[str, str], bytes]:
    head, _, rest = record.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "WARC/1.1"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return headers, rest


def test_generating_twice_gives_identical_bytes(tmp_path: Path, fresh: tuple[Path, Path]) -> None:
    write_sample(tmp_path / "sample.warc.gz")
    assert (tmp_path / "sample.warc.gz").read_bytes() == fresh[0].read_bytes()
    assert (tmp_path / "sample_manifest.json").read_bytes() == fresh[1].read_bytes()


def test_committed_sample_is_up_to_date_with_the_generator(fresh: tuple[Path, Path]) -> None:
    # Compare the records, not the deflate stream, so another zlib build cannot fail this.
    assert gzip.decompress(SAMPLE_WARC_PATH.read_bytes()) == gzip.decompress(
        fresh[0].read_bytes()
    ), "run: python -m textmill.data.make_sample"
    assert SAMPLE_MANIFEST_PATH.read_text() == fresh[1].read_text()


def test_sample_is_small_enough_to_commit() -> None:
    assert SAMPLE_WARC_PATH.stat().st_size < 5_000_000
    assert SAMPLE_MANIFEST_PATH.stat().st_size < 500_000


def test_every_record_is_its_own_gzip_member_with_correct_content_length(manifest: dict) -> None:
    members = _gzip_members(SAMPLE_WARC_PATH.read_bytes())
    assert len(members) == sum(manifest["record_counts"].values())
    for member in members:
        headers, rest = _warc_headers(member)
        length = int(headers["Content-Length"])
        assert rest[length:] == b"\r\n\r\n"
        assert headers["WARC-Record-ID"].startswith("<urn:uuid:")
    first, _ = _warc_headers(members[0])
    assert first["WARC-Type"] == "warcinfo"
    assert first["WARC-Record-ID"] == manifest["warcinfo_record_id"]


def test_fastwarc_counts_match_the_manifest(manifest: dict) -> None:
    counts: collections.Counter[str] = collections.Counter()
    with open(SAMPLE_WARC_PATH, "rb") as stream:
        for record in ArchiveIterator(stream, parse_http=False):
            counts[record.headers["WARC-Type"]] += 1
            if record.headers.get("WARC-Block-Digest"):
                assert record.verify_block_digest(), record.record_id
    assert dict(counts) == manifest["record_counts"]
    assert counts["response"] + counts["revisit"] == len(manifest["pages"])


def test_responses_carry_http_headers_and_valid_payload_digests(manifest: dict) -> None:
    by_id = {page["record_id"]: page for page in manifest["pages"]}
    seen = 0
    with open(SAMPLE_WARC_PATH, "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
            page = by_id[record.record_id]
            assert record.headers["WARC-Target-URI"] == page["url"]
            assert record.http_headers.status_code == 200
            assert record.http_headers["Content-Type"] == page["content_type"]
            body = record.reader.read()
            assert int(record.http_headers["Content-Length"]) == len(body)
            digest = base64.b32encode(hashlib.sha1(body).digest()).decode()
            assert record.headers["WARC-Payload-Digest"] == f"sha1:{digest}"
            seen += 1
    assert seen == manifest["record_counts"]["response"]


def test_revisits_point_at_an_earlier_response_of_the_same_url(manifest: dict) -> None:
    pages = manifest["pages"]
    responses = {p["url"]: p["record_id"] for p in pages if p["warc_type"] == "response"}
    with open(SAMPLE_WARC_PATH, "rb") as stream:
        revisits = list(ArchiveIterator(stream, record_types=WarcRecordType.revisit))
    assert len(revisits) == manifest["record_counts"]["revisit"] >= 3
    for record in revisits:
        url = record.headers["WARC-Target-URI"]
        assert record.headers["WARC-Refers-To"] == responses[url]
        assert record.headers["WARC-Profile"].endswith("/revisit/identical-payload-digest")


def test_manifest_holds_every_kind_of_noise_the_pipeline_must_handle(manifest: dict) -> None:
    kinds = manifest["kind_counts"]
    for kind in ("spam", "link_list", "short", "lorem", "code", "blocked_url", "revisit"):
        assert kinds[kind] >= 3, kind
    for lang in ("fr", "de", "es", "zh", "ja", "ru"):
        assert kinds[f"non_english:{lang}"] >= 1
    assert kinds["exact_dup_of"] >= 10 and kinds["near_dup_of"] >= 10
    assert kinds["non_html:text/plain"] >= 1 and kinds["non_html:image/png"] >= 1
    assert 300 <= len(manifest["pages"]) <= 500
    assert manifest["expect_counts"]["keep"] == kinds["article"] >= 200


def test_duplicates_name_an_article_that_comes_earlier(manifest: dict) -> None:
    pages = manifest["pages"]
    position = {p["url"]: i for i, p in enumerate(pages) if p["warc_type"] == "response"}
    kinds = {p["url"]: p["kind"] for p in manifest["pages"]}
    for i, page in enumerate(manifest["pages"]):
        if page["kind"].startswith(("exact_dup_of:", "near_dup_of:")):
            original = page["kind"].split(":", 1)[1]
            assert kinds[original] == "article" and position[original] < i


def _bodies_by_url() -> dict[str, bytes]:
    with open(SAMPLE_WARC_PATH, "rb") as stream:
        return {
            record.headers["WARC-Target-URI"]: record.reader.read()
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response)
        }


def test_exact_duplicates_are_byte_identical_to_their_original(manifest: dict) -> None:
    bodies = _bodies_by_url()
    exact = [p for p in manifest["pages"] if p["kind"].startswith("exact_dup_of:")]
    for page in exact:
        assert bodies[page["url"]] == bodies[page["kind"].split(":", 1)[1]]
    assert len(exact) == manifest["kind_counts"]["exact_dup_of"]


def test_pii_listed_in_the_manifest_appears_in_its_page(manifest: dict) -> None:
    bodies = _bodies_by_url()
    with_pii = [p for p in manifest["pages"] if "pii" in p]
    assert len(with_pii) >= 10
    for page in with_pii:
        pii = page["pii"]
        for value in pii["emails"] + pii["public_ips"] + pii["private_ips"]:
            assert value.encode() in bodies[page["url"]]


def test_legacy_charset_pages_only_decode_with_their_declared_charset(manifest: dict) -> None:
    legacy = {p["url"]: p for p in manifest["pages"] if p.get("charset", "utf-8") != "utf-8"}
    assert {p["charset"] for p in legacy.values()} == {"windows-1252", "shift_jis"}
    with open(SAMPLE_WARC_PATH, "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
            page = legacy.get(record.headers["WARC-Target-URI"])
            if page is None:
                continue
            body = record.reader.read()
            with pytest.raises(UnicodeDecodeError):
                body.decode("utf-8")
            text = body.decode(page["charset"])
            assert f'charset="{page["charset"]}"' in text
            assert ("café" in text) if page["charset"] == "windows-1252" else ("港" in text)


def test_manifest_is_valid_json_with_one_entry_per_line() -> None:
    lines = SAMPLE_MANIFEST_PATH.read_text().splitlines()
    page_lines = [line for line in lines if line.startswith('  {"url"')]
    assert len(page_lines) == len(json.loads("\n".join(lines))["pages"])
