"""The provenance stage: WARC record id and crawl date lifted out of metadata, and the licence a
page declares (Creative Commons with rel="license" or a licence meta tag)."""

import pyarrow as pa

from textmill.document import make_batch
from textmill.report.build import RunReport
from textmill.report.card import front_matter, licenses
from textmill.report.collect import merge_states
from textmill.stages.provenance import Provenance, license_id

PAGES = [
    '<footer><a rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">CC</a>',
    '<a href="http://creativecommons.org/publicdomain/zero/1.0/" rel="license">CC0</a>',
    '<p>Read about <a href="https://creativecommons.org/licenses/by/4.0/">CC BY</a>.</p>',
    '<meta name="dcterms.license" content="https://creativecommons.org/licenses/by-nc/3.0/">',
    "<p>all rights reserved</p>",
]


def batch() -> pa.Table:
    metadata = [{"warc_record_id": "urn:uuid:1", "warc_date": "2024-03-04T05:07:20Z"}]
    return make_batch(
        [str(i) for i in range(5)], [None] * 5, metadata=metadata + [None] * 4, html=PAGES
    )


def test_declared_creative_commons_licences_become_hugging_face_ids():
    out = Provenance().map(batch())
    assert out["license"].to_pylist() == ["cc-by-sa-4.0", "cc0-1.0", None, "cc-by-nc-3.0", None]


def test_a_bare_link_to_a_licence_counts_only_when_asked():
    out = Provenance(require_rel_license=False).map(batch())
    assert out["license"].to_pylist()[2] == "cc-by-4.0"


def test_warc_record_id_and_crawl_date_come_out_of_metadata():
    out = Provenance().map(batch())
    assert out["warc_record_id"].to_pylist() == ["urn:uuid:1", None, None, None, None]
    assert out["crawl_date"].to_pylist()[0] == "2024-03-04T05:07:20Z"
    assert out.num_rows == 5 and "html" in out.column_names


def test_licence_ids_cover_public_domain_marks_and_versionless_urls():
    assert license_id("publicdomain", "mark", "1.0") == "cc-pdm-1.0"
    assert license_id("licenses", "by-nc-nd", None) == "cc-by-nc-nd"


def run_report(tmp_path, licence_counts: dict) -> RunReport:
    state = merge_states([])
    state["licenses"] = licence_counts
    stats = {"read": 3, "kept": 3, "rejected": 0, "errored": 0, "stages": [], "languages": {}}
    return RunReport(tmp_path, stats, state, {}, ["id", "text", "license"], [])


def test_card_names_the_licence_when_every_kept_document_declares_one(tmp_path):
    report = run_report(tmp_path, {"cc-by-4.0": 3})
    assert front_matter(report)["license"] == "cc-by-4.0"


def test_card_says_other_and_counts_documents_without_a_licence(tmp_path):
    report = run_report(tmp_path, {"cc-by-4.0": 2, "none": 1})
    assert front_matter(report)["license"] == "other"
    assert "1 kept documents declare none" in licenses(report)[1]
