"""`textmill mix SPEC.yaml -o MIX` end to end on small sources the tests write: ratios within
tolerance, temperature against its closed form, rehydrate copies, epochs, the Megatron blend
line, determinism, CLI and Python parity."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl

from textmill.cli import main
from textmill.mix import mix

WORD = "mot "  # 4 UTF-8 bytes: the unit when the spec names no tokenizer


def text_source(folder: Path, langs: dict[str, int], seed: int = 0, copies=None) -> Path:
    """Parquet of text: `langs` documents per language, 5-60 words each."""
    rng = np.random.default_rng(seed)
    ids, texts, lang_column = [], [], []
    for lang, count in langs.items():
        for i in range(count):
            ids.append(f"{folder.name}-{lang}-{i}")
            texts.append(WORD * int(rng.integers(5, 60)))
            lang_column.append(lang)
    columns = {
        "id": ids,
        "text": texts,
        "source": [f"{folder.name}.jsonl"] * len(ids),
        "lang": lang_column,
    }
    if copies is not None:
        columns["rehydrate_copies"] = pa.array(copies(len(ids)), pa.int32())
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / "part-0.parquet")
    return folder


def read_mix(out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((out / "data").glob("*.parquet")))


def bytes_by_group(table: pa.Table) -> dict[str, int]:
    sizes = pc.binary_length(pc.cast(table["text"], pa.large_binary())).to_numpy()
    groups = np.array(table["mix_group"].to_pylist())
    return {g: int(sizes[groups == g].sum()) for g in np.unique(groups)}


def test_weights_give_the_requested_ratio_within_half_a_percent(tmp_path):
    text_source(tmp_path / "web", {"fr": 800, "en": 2000, "de": 600, "es": 300})
    manifest = mix(
        {
            "sources": [{"path": str(tmp_path / "web")}],
            "group_by": "lang",
            "weights": {"fr": 0.33, "en": 0.33, "*": 0.34},
        },
        tmp_path / "mix",
    )
    groups = {g["group"]: g for g in manifest["groups"]}
    total = manifest["bytes"]
    assert manifest["unit"] == "bytes" and manifest["method"] == "weights"
    for name, share in (("fr", 0.33), ("en", 0.33)):
        assert (
            abs(groups[name]["realized_tokens"] - share * manifest["budget"])
            <= 0.005 * share * manifest["budget"]
        )
        assert groups[name]["realized_share"] == pytest.approx(share, abs=0.005)
    assert groups["de"]["requested_share"] + groups["es"]["requested_share"] == pytest.approx(0.34)
    # the data says the same as the manifest
    table = read_mix(tmp_path / "mix")
    assert table.num_rows == manifest["documents"]
    assert bytes_by_group(table) == {g: groups[g]["realized_tokens"] for g in groups}
    assert sum(bytes_by_group(table).values()) == total
    assert len(set(table["id"].to_pylist())) == table.num_rows  # no document twice
    langs = table["mix_group"].to_pylist()
    for name, group in groups.items():
        assert group["realized_document_share"] == langs.count(name) / table.num_rows


def test_temperature_sampling_matches_the_closed_form(tmp_path):
    text_source(tmp_path / "web", {"en": 3000, "fr": 600, "sw": 120})
    manifest = mix(
        {"sources": [{"path": str(tmp_path / "web")}], "group_by": "lang", "temperature": 3.0},
        tmp_path / "mix",
    )
    available = {g["group"]: g["available_tokens"] for g in manifest["groups"]}
    expected = {
        g: n ** (1 / 3) / sum(m ** (1 / 3) for m in available.values())
        for g, n in available.items()
    }
    for group in manifest["groups"]:
        assert group["requested_share"] == pytest.approx(expected[group["group"]], rel=1e-9)
        assert abs(group["error"]) <= 0.005
    assert {g["group"]: g["epochs"] for g in manifest["groups"]}["sw"] == pytest.approx(
        1, abs=0.005
    )


def test_rehydrate_copies_repeat_documents_with_copy_ids(tmp_path):
    text_source(tmp_path / "web", {"en": 200}, copies=lambda n: np.arange(n) % 3 + 1)
    manifest = mix(
        {"sources": [{"path": str(tmp_path / "web"), "rehydrate": True}]}, tmp_path / "mix"
    )
    table = read_mix(tmp_path / "mix")
    ids = table["id"].to_pylist()
    assert manifest["documents"] == len(ids) == sum(np.arange(200) % 3 + 1)
    assert "web-en-2" in ids and "web-en-2#copy1" in ids and "web-en-2#copy2" in ids
    assert "web-en-0#copy1" not in ids
    (group,) = manifest["groups"]
    assert group["max_repeats"] == 3 and group["epochs"] == pytest.approx(1)


def test_a_rehydrate_source_without_copies_is_refused(tmp_path, capsys):
    text_source(tmp_path / "web", {"en": 20})
    spec = write_spec(tmp_path, {"sources": [{"path": "web", "rehydrate": True}]})
    assert main(["mix", str(spec), "-o", str(tmp_path / "mix")]) == 2
    assert "no rehydrate_copies column; run the rehydrate stage" in capsys.readouterr().err


def test_upsampling_by_epochs_reaches_a_budget_larger_than_the_data(tmp_path):
    text_source(tmp_path / "a", {"xx": 300})
    text_source(tmp_path / "b", {"xx": 300})
    data = sum(
        pq.read_table(tmp_path / f / "part-0.parquet")["text"].to_pylist().__len__() for f in "ab"
    )
    assert data == 600
    spec = {
        "sources": [
            {"path": str(tmp_path / "a"), "weight": 3},
            {"path": str(tmp_path / "b"), "weight": 1},
        ],
        "max_epochs": 3,
    }
    manifest = mix(spec, tmp_path / "mix")
    groups = {g["group"]: g for g in manifest["groups"]}
    assert groups["a"]["epochs"] == pytest.approx(3, abs=0.01)  # a is the limit at 3 epochs
    assert groups["b"]["epochs"] == pytest.approx(1, abs=0.01)
    assert groups["a"]["max_repeats"] <= 3
    assert groups["a"]["realized_share"] == pytest.approx(0.75, abs=0.005)


def test_the_same_seed_gives_the_same_mixture_and_another_seed_another(tmp_path):
    text_source(tmp_path / "web", {"fr": 500, "en": 1500})
    spec = {
        "sources": [{"path": str(tmp_path / "web")}],
        "group_by": "lang",
        "weights": {"fr": 1, "en": 1},
        "seed": 5,
    }
    mix(spec, tmp_path / "one")
    mix(spec, tmp_path / "two")
    mix({**spec, "seed": 6}, tmp_path / "three")
    one, two, three = (read_mix(tmp_path / n) for n in ("one", "two", "three"))
    assert one.equals(two)
    assert one["id"].to_pylist() != three["id"].to_pylist()
    assert sorted(one["id"].to_pylist()) != sorted(three["id"].to_pylist())  # another selection


def write_spec(folder: Path, spec: dict) -> Path:
    import yaml

    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path


def test_cli_and_python_api_make_the_same_mixture(tmp_path, capsys):
    text_source(tmp_path / "web", {"fr": 400, "en": 900})
    spec = {
        "sources": [{"path": "web"}],
        "group_by": "lang",
        "weights": {"fr": 0.5, "en": 0.5},
        "seed": 2,
    }
    path = write_spec(tmp_path, spec)
    assert main(["mix", str(path), "-o", str(tmp_path / "cli")]) == 0
    printed = capsys.readouterr().out
    assert "requested" in printed and "realized" in printed and "fr" in printed
    api = mix(path, tmp_path / "api")
    cli = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert cli["groups"] == api["groups"]
    assert read_mix(tmp_path / "cli").equals(read_mix(tmp_path / "api"))
    # `-o` before the spec, and a re-run needs --overwrite
    assert main(["mix", "-o", str(tmp_path / "cli"), str(path)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["mix", "-o", str(tmp_path / "cli"), str(path), "--overwrite", "--seed", "3"]) == 0
    assert json.loads((tmp_path / "cli" / "manifest.json").read_text())["seed"] == 3


def test_a_textmill_run_output_is_a_source_grouped_by_a_field_it_kept(tmp_path):
    """`textmill run` on JSONL: OUT is the source, `domain` (kept in metadata) the group."""
    records = [
        {
            "id": f"d{i}",
            "text": f"{WORD * (5 + i % 40)}number {i}",
            "domain": ["news", "wiki", "forum"][i % 3],
        }
        for i in range(900)
    ]
    write_jsonl(tmp_path / "in" / "part-0.jsonl", records)
    reconciled_run(["exact_dedup"], [str(tmp_path / "in")], tmp_path / "out")
    spec = {
        "sources": [{"path": str(tmp_path / "out")}],
        "group_by": "domain",
        "weights": {"news": 2, "wiki": 1, "forum": 1},
    }
    manifest = mix(spec, tmp_path / "mix")
    shares = {g["group"]: g["realized_share"] for g in manifest["groups"]}
    assert shares == pytest.approx({"news": 0.5, "wiki": 0.25, "forum": 0.25}, abs=0.005)
    assert manifest["notes"] == ["weights sum to 4: normalised to sum to 1"]
    # the mixture is itself a source (MIX/data, as OUT/data)
    again = mix({"sources": [{"path": str(tmp_path / "mix" / "data")}]}, tmp_path / "again")
    assert again["documents"] == manifest["documents"]


def tok_folder(folder: Path, sizes: list[int], lang: str, sha: str = "abc") -> Path:
    """A TOK folder as `textmill tokenize --format megatron` writes it (the contract's files)."""
    folder.mkdir(parents=True)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pq.write_table(
        pa.table(
            {
                "id": [f"{folder.name}{i}" for i in range(len(sizes))],
                "source": ["s"] * len(sizes),
                "lang": [lang] * len(sizes),
                "tokens": pa.array(sizes, pa.int64()),
                "offset": pa.array(offsets, pa.int64()),
            }
        ),
        folder / "documents.parquet",
    )
    manifest = {
        "tokens": int(sum(sizes)),
        "documents": len(sizes),
        "tokenizer_sha256": sha,
        "format": "megatron",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    np.zeros(sum(sizes), np.uint16).tofile(folder / "tokens.bin")
    (folder / "tokens.idx").write_bytes(b"MMIDIDX\x00\x00")
    return folder


def test_megatron_blend_line_weights_give_the_requested_token_shares(tmp_path, capsys):
    tok_folder(tmp_path / "zh", [100] * 80, "zh")  # 8,000 tokens
    tok_folder(tmp_path / "en", [50] * 40, "en")  # 2,000 tokens
    tok_folder(tmp_path / "code", [10] * 100, "code")  # 1,000 tokens
    spec = {
        "sources": [{"path": "zh"}, {"path": "en"}, {"path": "code"}],
        "weights": {"zh": 800, "en": 300, "code": 100},
    }
    path = write_spec(tmp_path, spec)
    assert main(["mix", str(path), "-o", str(tmp_path / "mix"), "--megatron-blend"]) == 0
    printed = capsys.readouterr().out
    line = (tmp_path / "mix" / "blend.txt").read_text().strip()
    assert f"--data-path {line}" in printed
    words = line.split()
    weights = dict(zip(words[1::2], map(float, words[0::2]), strict=True))
    assert weights == pytest.approx(
        {
            str((tmp_path / n / "tokens").resolve()): w
            for n, w in (("zh", 2 / 3), ("en", 0.25), ("code", 1 / 12))
        },
        rel=1e-6,
    )
    manifest = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    assert manifest["unit"] == "tokens"
    assert manifest["budget"] == 8000  # en's 2,000 tokens at 25%: the largest mixture
    prefixes = {p["source"]: p for p in manifest["output"]["prefixes"]}
    assert prefixes["en"]["epochs_at_budget"] == pytest.approx(1.0)
    assert prefixes["code"]["epochs_at_budget"] == pytest.approx(8000 / 12 / 1000)


def test_dry_run_prints_the_plan_and_flags_override_the_spec(tmp_path, capsys):
    text_source(tmp_path / "web", {"fr": 400, "en": 900})
    path = write_spec(
        tmp_path, {"sources": [{"path": "web"}], "group_by": "lang", "temperature": 2}
    )
    assert main(["mix", str(path), "--dry-run", "--budget", "20K"]) == 0
    printed = capsys.readouterr().out
    assert "dry run: nothing written" in printed and "20,000 bytes" in printed
    assert not (tmp_path / "mix").exists()
    assert main(["mix", str(path), "-o", str(tmp_path / "mix"), "--budget", "lots"]) == 2
    assert "--budget: a token count is a number" in capsys.readouterr().err
    assert main(["mix", str(path), "-o", str(tmp_path / "mix"), "--format", "megatron"]) == 2
    assert "name a `tokenizer` in the spec" in capsys.readouterr().err


def test_rehydrate_copies_from_a_real_minhash_and_rehydrate_run(tmp_path):
    """minhash_dedup keeps one document per cluster, rehydrate writes its copies, mix repeats."""
    base = "the same long page about the weather in the city and the trains that run late "
    records = [{"id": f"dup{i}", "text": base * 8 + f"copy {i}"} for i in range(3)]
    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = [
        "".join(rng.choice(letters, 6)) for _ in range(5000)
    ]  # no digits: minhash drops them
    records += [{"id": f"u{i}", "text": " ".join(rng.choice(vocabulary, 80))} for i in range(20)]
    write_jsonl(tmp_path / "in" / "part-0.jsonl", records)
    reconciled_run(["minhash_dedup", "rehydrate"], [str(tmp_path / "in")], tmp_path / "out")
    kept = pa.concat_tables(
        pq.read_table(p) for p in sorted((tmp_path / "out" / "data").glob("*.parquet"))
    )
    copies = dict(zip(kept["id"].to_pylist(), kept["rehydrate_copies"].to_pylist(), strict=True))
    assert sorted(copies.values())[-1] == 3  # the cluster of three: FineWeb-2's table gives 3
    manifest = mix(
        {"sources": [{"path": str(tmp_path / "out"), "rehydrate": True}]}, tmp_path / "mix"
    )
    ids = read_mix(tmp_path / "mix")["id"].to_pylist()
    assert manifest["documents"] == len(ids) == sum(copies.values())
    (kept_dup,) = [i for i, c in copies.items() if c == 3]
    assert {kept_dup, f"{kept_dup}#copy1", f"{kept_dup}#copy2"} <= set(ids)
