import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import textmill
from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.stages.safety.pii import Pii, is_public_ip, screen_rows
from textmill.stages.safety.pii_kinds import (
    IPV6_SCREEN,
    KINDS,
    SECRET_ASSIGNMENT_SCREEN,
    SECRET_TOKEN_SCREEN,
    URL_CREDENTIALS_SCREEN,
)


def three_rows() -> pa.Table:
    return make_batch(
        ["mail", "ips", "none"],
        [
            "Write to Jane.Doe@mail.example.org or ops@corp.io today.",
            "Server 8.8.8.8, LAN 192.168.1.10, loopback ::1, public 2606:4700:4700::1111.",
            None,
        ],
    )


def test_emails_and_public_ips_are_replaced_and_counted():
    out = build_stage("pii").process(three_rows())[0]
    assert out["text"].to_pylist() == [
        "Write to email@example.com or email@example.com today.",
        "Server 192.0.2.1, LAN 192.168.1.10, loopback ::1, public 2001:db8::1.",
        None,
    ]
    assert out["pii_email"].to_pylist() == [2, 0, 0]
    assert out["pii_ip"].to_pylist() == [0, 2, 0]
    assert out.schema.field("pii_email").type == pa.int32()
    assert out.schema.field("pii_ip").type == pa.int32()


def test_version_numbers_times_and_mac_addresses_are_not_ips():
    text = "Release 1.2.3.4.5 at 12:30:45 from 00:1a:2b:3c:4d:5e, out of 999.1.1.1 range."
    out = Pii().map(make_batch(["a"], [text]))
    assert out["text"][0].as_py() == text
    assert out["pii_ip"][0].as_py() == 0


def test_second_run_changes_nothing_and_counts_nothing():
    once = Pii().map(three_rows())
    twice = Pii().map(once)
    assert twice["text"].to_pylist() == once["text"].to_pylist()
    assert twice["pii_email"].to_pylist() == [0, 0, 0]
    assert twice["pii_ip"].to_pylist() == [0, 0, 0]


def test_ip_redaction_can_be_switched_off():
    out = Pii(ips=False).map(three_rows())
    assert "8.8.8.8" in out["text"][1].as_py()
    assert out["pii_ip"].to_pylist() == [0, 0, 0]


def test_private_reserved_and_multicast_addresses_are_not_public():
    private = ["10.0.0.1", "172.16.5.4", "127.0.0.1", "100.64.0.1", "224.0.0.1", "fe80::1", "::a"]
    assert [is_public_ip(address) for address in private] == [False] * len(private)
    assert is_public_ip("1.1.1.1") and is_public_ip("2a00:1450:4001::200e")


# ------------------------------------------------------------------ kinds, modes, density

ALL_KINDS = [kind for kind in KINDS if kind != "person"]  # person needs an NER model
MIXED = [
    "Call (415) 555-2671, card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32.",
    "SSN 123-45-6789, key AKIAIOSFODNN7EXAMPLE, https://bob:s3cr3t@git.example.com/x, a@b.org",
    "ISBN 978-3-16-148410-0, order #4839201756, card 4111 1111 1111 1112, build 1.2.3.",
]


def mixed_rows() -> pa.Table:
    return make_batch(["p", "s", "none"], MIXED)


def test_every_kind_gets_its_placeholder_and_its_int32_count_column():
    pytest.importorskip("phonenumbers")
    out = Pii(kinds=ALL_KINDS).map(mixed_rows())
    assert out["text"].to_pylist() == [
        "Call <PHONE>, card <CREDIT_CARD>, IBAN <IBAN>.",
        "SSN <NATIONAL_ID>, key <SECRET>, https://<URL_CREDENTIALS>@git.example.com/x, "
        "email@example.com",
        MIXED[2],  # look-alikes only: nothing replaced
    ]
    counts = {kind: out[f"pii_{kind}"].to_pylist() for kind in ALL_KINDS}
    assert counts["phone"] == [1, 0, 0] and counts["credit_card"] == [1, 0, 0]
    assert counts["iban"] == [1, 0, 0] and counts["national_id"] == [0, 1, 0]
    assert counts["secret"] == [0, 1, 0] and counts["url_credentials"] == [0, 1, 0]
    assert counts["email"] == [0, 1, 0] and counts["ip"] == [0, 0, 0]
    assert all(out.schema.field(f"pii_{kind}").type == pa.int32() for kind in ALL_KINDS)


def test_placeholders_can_be_set_per_kind():
    out = Pii(kinds=["credit_card"], placeholders={"credit_card": "[CARD]"}).map(mixed_rows())
    assert out["text"][0].as_py() == MIXED[0].replace("4111 1111 1111 1111", "[CARD]")


def test_every_kind_twice_changes_nothing_the_second_time():
    pytest.importorskip("phonenumbers")
    stage = Pii(kinds=ALL_KINDS)
    once = stage.map(mixed_rows())
    twice = stage.map(once)
    assert twice["text"].to_pylist() == once["text"].to_pylist()
    assert all(sum(twice[f"pii_{kind}"].to_pylist()) == 0 for kind in ALL_KINDS)


def test_hash_mode_gives_one_token_per_value_whatever_its_spelling(monkeypatch):
    pytest.importorskip("phonenumbers")
    monkeypatch.setenv("TEXTMILL_PII_SALT", "pepper")
    texts = ["Call (415) 555-2671 or mail Bob@Corp.io", "Ring 415-555-2671, mail bob@corp.io"]
    stage = Pii(kinds=["email", "phone"], mode="hash")
    out = stage.map(make_batch(["a", "b"], texts))["text"].to_pylist()
    tokens = [re.findall(r"<[A-Z_]+:[0-9a-f]{16}>", text) for text in out]
    assert tokens[0][0].startswith("<PHONE:") and tokens[0][1].startswith("<EMAIL:")
    assert set(tokens[0]) == set(tokens[1]) and len(set(tokens[0])) == 2
    assert (
        Pii(kinds=["email", "phone"], mode="hash")
        .map(make_batch(["a"], [out[0]]))["text"][0]
        .as_py()
        == out[0]
    )  # a token is not PII: a second run keeps it
    monkeypatch.setenv("TEXTMILL_PII_SALT", "salt")
    other = stage.__class__(kinds=["email", "phone"], mode="hash").map(make_batch(["a"], texts[:1]))
    assert other["text"][0].as_py() != out[0]  # another salt, other tokens


def test_hash_mode_without_a_salt_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TEXTMILL_PII_SALT", raising=False)
    with pytest.raises(ValueError, match="TEXTMILL_PII_SALT"):
        Pii(kinds=["email"], mode="hash").setup()


def test_drop_mode_rejects_dense_documents_with_reason_and_redacts_the_rest():
    dense = "Mail a@b.org, c@d.org and e@f.org now."  # 3 in 38 characters
    sparse = "Mail a@b.org. " + "Plain words follow here. " * 40
    batch = make_batch(["dense", "sparse", "none"], [dense, sparse, "nothing here"])
    out, decision = Pii(kinds=["email"], mode="drop", max_density=5.0).process(batch)
    assert decision.keep.tolist() == [False, True, True]
    assert decision.reasons.to_pylist() == ["density", None, None]
    assert out["text"][1].as_py().startswith("Mail email@example.com.")
    per_word = Pii(kinds=["email"], mode="drop", max_density=0.5, density_unit="word")
    assert per_word.process(batch)[1].keep.tolist() == [True, True, True]  # 3 of 7 words
    per_word = Pii(kinds=["email"], mode="drop", max_density=0.3, density_unit="word")
    assert per_word.process(batch)[1].keep.tolist() == [False, True, True]


def test_a_drop_run_accounts_dense_documents_as_pii_density_rejects(tmp_path):
    from conftest import reconciled_run, write_jsonl

    records = [
        {"id": "dense", "text": "a@b.org c@d.org e@f.org"},
        {"id": "kept", "text": "Write to jane@mail.example.org. " + "Words and more words. " * 30},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    stats, _ = reconciled_run([("pii", {"mode": "drop"})], [source], tmp_path / "out")
    assert (stats["read"], stats["kept"], stats["rejected"]) == (2, 1, 1)
    assert stats["stages"][0]["reasons"] == {"density": 1}
    rejects = pq.read_table(next((tmp_path / "out" / "rejects").glob("*.parquet"))).to_pylist()
    assert [(r["id"], r["reject_reason"]) for r in rejects] == [("dense", "pii:density")]
    assert "a@b.org" not in rejects[0]["text"]  # the rejects hold no PII either


def test_person_needs_a_model_folder_and_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="ner_model"):
        Pii(kinds=["person"])
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        Pii(kinds=["person"], ner_model=str(tmp_path / "missing")).setup()


def test_person_names_from_a_spacy_pipeline_folder(tmp_path):
    spacy = pytest.importorskip("spacy", reason="spaCy is in the `ner` extra")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [{"label": "PERSON", "pattern": "Ada Lovelace"}, {"label": "ORG", "pattern": "Acme"}]
    )
    nlp.to_disk(tmp_path / "ner")
    stage = Pii(kinds=["email", "person"], ner_model=str(tmp_path / "ner"))
    stage.setup()
    out = stage.map(make_batch(["a", "b"], ["Ada Lovelace works at Acme, ada@acme.org.", "none"]))
    assert out["text"].to_pylist() == ["<PERSON> works at Acme, email@example.com.", "none"]
    assert out["pii_person"].to_pylist() == [1, 0]


def test_gliner_and_presidio_engines_say_what_is_missing(tmp_path):
    import importlib.util

    (tmp_path / "model").mkdir()
    for engine, module in (("gliner", "gliner"), ("presidio", "presidio_analyzer")):
        if importlib.util.find_spec(module) is not None:
            continue  # installed: loading a real model is the user's artifact
        with pytest.raises(ImportError, match=module):
            Pii(kinds=["person"], ner_engine=engine, ner_model=str(tmp_path / "model")).setup()


def test_yaml_python_and_cli_name_the_same_options(tmp_path, capsys):
    from textmill import Pipeline
    from textmill.cli import main

    yaml_text = "stages:\n  - pii: {kinds: [email, credit_card], mode: hash, hash_length: 12}\n"
    from_yaml = Pipeline.from_yaml_text(yaml_text)
    from_python = Pipeline([Pii(kinds=["email", "credit_card"], mode="hash", hash_length=12)])
    assert from_yaml.to_yaml() == from_python.to_yaml()
    assert textmill.Pii is Pii  # the README's `from textmill import Pii`
    assert main(["stages", "pii"]) == 0
    listed = capsys.readouterr().out
    for option in Pii.Options.model_fields:
        assert f"    {option} = " in listed


def test_counts_of_every_kind_are_summed_in_the_report_and_the_card(tmp_path):
    pytest.importorskip("phonenumbers")
    from conftest import reconciled_run, write_jsonl

    records = [{"id": str(i), "text": text} for i, text in enumerate(MIXED)]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out"
    reconciled_run([("pii", {"kinds": ALL_KINDS})], [source], out)
    card = (out / "README.md").read_text("utf-8")
    assert "| credit_card | 1 | 1 |" in card and "| phone | 1 | 1 |" in card
    assert "payment card numbers" in card and "Not detected: person names" in card
    html = (out / "report.html").read_text("utf-8")
    assert "national_id" in html and "url_credentials" in html


def test_a_folder_that_is_not_a_spacy_pipeline_is_a_clear_error(tmp_path):
    pytest.importorskip("spacy", reason="spaCy is in the `ner` extra")
    from textmill.config import PipelineConfigError

    (tmp_path / "empty").mkdir()
    with pytest.raises(PipelineConfigError, match="not a spaCy pipeline folder"):
        Pii(kinds=["person"], ner_model=str(tmp_path / "empty")).setup()


def test_the_cli_says_what_is_missing_and_exits_2_without_a_salt(tmp_path, monkeypatch, capsys):
    from conftest import write_jsonl

    from textmill.cli import main

    monkeypatch.delenv("TEXTMILL_PII_SALT", raising=False)
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "mail bob@corp.io"}])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - pii: {mode: hash}\n", "utf-8")
    assert main(["run", str(pipeline), str(source), "-o", str(tmp_path / "out")]) == 2
    assert "TEXTMILL_PII_SALT" in capsys.readouterr().err


def test_screen_rows_gives_each_patterns_own_rows_in_the_patterns_order():
    texts = [
        "to 2606:4700:4700::1111",
        "https://bob:s3cr3t@git.example.com",
        'db_password = "hunter22x"',
        None,
        "nothing here",
        "key AKIAIOSFODNN7EXAMPLE from 2001:4860:4860:0:0:0:0:8888",
    ]
    patterns = {  # prefixed screens (alone over the column) between two shared ones
        ("secret", "token"): SECRET_TOKEN_SCREEN,
        ("url_credentials", ""): URL_CREDENTIALS_SCREEN,
        ("ip", "v6"): IPV6_SCREEN,
        ("secret", "assignment"): SECRET_ASSIGNMENT_SCREEN,
    }
    rows, subset, masks = screen_rows(pa.array(texts), patterns)
    assert rows.tolist() == [0, 1, 2, 5]
    assert subset.to_pylist() == [texts[row] for row in rows]
    assert list(masks) == list(patterns)
    assert {key: mask.tolist() for key, mask in masks.items()} == {
        ("secret", "token"): [False, False, False, True],
        ("url_credentials", ""): [False, True, False, False],
        ("ip", "v6"): [True, False, False, True],
        ("secret", "assignment"): [False, False, True, False],
    }


@pytest.mark.parametrize("large", [False, True])
def test_tokens_are_spliced_into_the_bytes_of_sliced_columns_with_nulls(large):
    pytest.importorskip("phonenumbers")
    texts = [
        "skip me 8.8.8.8",
        "😀 é 2606:4700:4700::1111 五 bob@corp.io, (415) 555-2671 é",  # screened and windowed
        None,
        'ü db_password = "hunter2!x" ü and 8.8.4.4',
        "nothing 五",
    ]
    column = pa.array(texts, pa.large_string() if large else pa.string()).slice(1)
    batch = pa.table({"id": ["a", "b", "c", "d"], "text": column})
    out = Pii(kinds=ALL_KINDS).map(batch)
    assert out["text"].type == column.type
    assert out["text"].to_pylist() == [
        "😀 é 2001:db8::1 五 email@example.com, <PHONE> é",
        None,
        'ü db_password = "<SECRET>" ü and 192.0.2.1',
        "nothing 五",
    ]
    assert out["pii_ip"].to_pylist() == [1, 0, 1, 0]
