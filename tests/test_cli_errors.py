"""Bad command lines, settings and options end with one clear line and exit code 2 (130 for
Ctrl-C), never a traceback, and are never silently accepted; the Python API refuses the same
values with the same messages."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from textmill.api import Pipeline
from textmill.cli import main
from textmill.config import PipelineConfigError, parse_pipeline
from textmill.executors.local import SettingsError

ROOT = Path(__file__).resolve().parents[1]


WORDS = ("the", "mill", "turns", "and", "the", "river", "runs", "past", "the", "village")


def write_corpus(folder: Path, shards: int, docs: int, words: int) -> Path:
    folder.mkdir()
    for shard in range(shards):
        lines = (
            json.dumps(
                {"id": f"{shard}-{i}", "text": " ".join(WORDS[(i * k) % 10] for k in range(words))}
            )
            for i in range(docs)
        )
        (folder / f"part-{shard}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "in", shards=2, docs=50, words=60)


def fails_cleanly(argv: list[str], capsys, *expected: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("textmill: error: ") and err.count("\n") == 1, err
    for text in expected:
        assert text in err, err
    return err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--batch-size", "0"], "batch_size must be a whole number >= 1 (got 0)"),
        (["--batch-size", "-1"], "batch_size must be a whole number >= 1 (got -1)"),
        (["--workers", "-1"], "workers must be a whole number >= 0 (got -1)"),
        (["--max-doc-bytes", "-1"], "max_document_bytes must be a whole number >= 1"),
        (["--max-doc-bytes", "0"], "max_document_bytes must be a whole number >= 1"),
        (["--max-compression-ratio", "-1"], "must be a number >= 0"),
        (["--address", "auto"], "address: only with the Ray executor"),
        (["--cpus-per-task", "2"], "cpus_per_task: only with the Ray executor"),
    ],
)
def test_bad_run_settings_are_refused_before_anything_is_written(
    flags, expected, corpus, tmp_path, capsys
):
    out = tmp_path / "out"
    argv = ["run", "--preset", "fineweb", str(corpus), "-o", str(out), "--no-progress", *flags]
    fails_cleanly(argv, capsys, expected)
    assert not out.exists()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"batch_size": 0}, "batch_size must be"),
        ({"workers": -1}, "workers must be"),
        ({"max_document_bytes": -1}, "max_document_bytes must be"),
        ({"batch_size": 1.5}, "batch_size must be a whole number"),
        ({"max_compression_ratio": -1}, "max_compression_ratio must be a number >= 0"),
        ({"address": "auto"}, "only with the Ray executor"),
        ({"batchsize": 10}, "unknown run setting 'batchsize'"),
    ],
)
def test_the_python_api_refuses_the_same_settings(settings, expected, corpus, tmp_path):
    with pytest.raises(SettingsError, match=expected) as caught:
        Pipeline(["exact_dedup"]).run(corpus, tmp_path / "out", **settings)
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / "out").exists()


def test_a_python_tag_in_an_option_is_a_yaml_error_naming_the_line():
    text = "stages:\n  - gopher_quality:\n      min_words: !!python/object/apply:os.system [id]\n"
    with pytest.raises(PipelineConfigError, match=r"p\.yaml, line 3: stage 'gopher_quality'"):
        parse_pipeline(text, "p.yaml")
    nested = "stages:\n  - url_filter:\n      blocked_domains:\n        - !!python/name:os.system\n"
    with pytest.raises(PipelineConfigError, match=r"line 4: .*not valid pipeline YAML"):
        parse_pipeline(nested, "p.yaml")


def test_a_python_tag_in_a_pipeline_file_fails_the_run_cleanly(corpus, tmp_path, capsys):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - gopher_quality: {min_words: !!python/object:int {}}\n")
    argv = ["run", str(pipeline), str(corpus), "-o", str(tmp_path / "out"), "--no-progress"]
    fails_cleanly(argv, capsys, "line 2", "python/object")


@pytest.mark.parametrize(
    "options",
    [
        "{min_words: 500, max_words: 10}",
        "{min_mean_word_length: 8, max_mean_word_length: 4}",
        "{by_language: {de: {min_words: 200000}}}",  # above the default max_words
        "{fallback: {max_words: 1}}",  # below the default min_words
    ],
)
def test_a_min_above_its_max_is_refused(options):
    text = f"stages:\n  - gopher_quality: {options}\n"
    with pytest.raises(PipelineConfigError, match="is greater than max_"):
        parse_pipeline(text, "p.yaml")


def test_every_min_max_pair_of_every_stage_is_checked():
    import textmill.stages  # noqa: F401
    from textmill.pipeline import STAGES

    checked = 0
    for cls in STAGES.values():
        fields = cls.Options.model_fields
        for name in fields:
            upper = "max_" + name.removeprefix("min_")
            if not name.startswith("min_") or upper not in fields:
                continue
            high = fields[upper].default
            with pytest.raises(ValueError, match=f"{name} .* is greater than {upper}"):
                cls.Options(**{name: high * 2 + 1, upper: high})
            checked += 1
    assert checked >= 2  # gopher_quality: words and mean word length


def test_presets_lists_and_explains_fineweb2(capsys, tmp_path):
    assert main(["presets"]) == 0
    listed = capsys.readouterr().out.split("\n")
    names = [line.split()[0] for line in listed if line]
    assert names[-1] == "fineweb2"  # the per-language one, explained, after the files
    assert {"code", "fineweb", "multilingual"} <= set(names[:-1]) and names[:-1] == sorted(
        names[:-1]
    )
    assert {"swallowcode", "swallowmath"} <= set(names)  # every file in textmill/presets
    fails_cleanly(["presets", "fineweb2"], capsys, "--lang", "--lang-config")
    fails_cleanly(["presets", "fineweb", "--lang", "ja"], capsys, "for fineweb2 only")
    config = tmp_path / "jpn_Jpan.yml"
    config.write_text(
        "dup_line_frac: 0.25\ndup_n_grams: [[5, 0.2]]\nlanguage_score: 0.71\nline_punct_thr: 0.1\n"
        "max_avg_word_length: 6\nmax_non_alpha_words_ratio: 0.76\nmin_avg_word_length: 1\n"
        "new_line_ratio: 0.15\nstopwords: [a, b]\ntop_n_grams: [[2, 0.24]]\n"
    )
    assert main(["presets", "fineweb2", "--lang", "ja", "--lang-config", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("name: fineweb2-ja")
    assert Pipeline.from_yaml_text(printed).stage_names[-1] == "pii"
    with pytest.raises(PipelineConfigError, match="fineweb2 is built per language"):
        Pipeline.from_preset("fineweb2")


@pytest.mark.parametrize("config", ["missing-folder", "missing.yml", "empty-folder"])
def test_a_missing_lang_config_is_a_clear_error(config, corpus, tmp_path, capsys):
    (tmp_path / "empty-folder").mkdir()
    argv = ["run", "--preset", "fineweb2", "--lang", "ja", "--lang-config"]
    argv += [str(tmp_path / config), str(corpus), "-o", str(tmp_path / "out")]
    fails_cleanly(argv, capsys, config)
    assert not (tmp_path / "out").exists()


def test_an_interrupt_while_starting_up_is_one_line_and_130(monkeypatch, capsys):
    import textmill.cli

    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(textmill.cli.importlib, "import_module", interrupted)
    handler = signal.getsignal(signal.SIGINT)
    try:
        assert main(["stages"]) == 130
    finally:
        signal.signal(signal.SIGINT, handler)
    assert capsys.readouterr().err == "textmill: interrupted; re-run the same command to resume\n"


def test_ctrl_c_at_any_moment_ends_with_one_line_and_130(tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: while Python imports
    textmill, while the worker pool runs, and late in the run."""
    folder = write_corpus(tmp_path / "in", shards=4, docs=3000, words=150)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()  # the interpreter's own start-up is Python's, not textmill's
    subprocess.run([sys.executable, "-c", "import textmill.cli"], env=env, check=True)
    startup = time.perf_counter() - started
    outcomes = []
    for delay in (max(0.3, 2 * startup), 1.5, 4.0):
        out = tmp_path / f"out-{delay}"
        process = subprocess.Popen(
            [sys.executable, "-m", "textmill", "run", "--preset", "fineweb", str(folder),
             "-o", str(out), "-w", "2", "--no-progress"],
            env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert "Traceback" not in err, err
        if process.returncode == 0:  # the run had finished first: nothing to interrupt
            continue
        # 130, or death by SIGINT where CPython re-raises it at exit: a shell shows 130 for both
        assert process.returncode in (130, -signal.SIGINT), err
        assert err.splitlines()[-1].startswith("textmill: interrupted"), err
        assert len(err.splitlines()) == 1, err
        outcomes.append(delay)
    assert outcomes, "no trial was interrupted: the corpus is too small"


def usage_error(argv: list[str], capsys, expected: str) -> None:
    """argparse's own error: exit code 2, the flag named, no traceback."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and expected in err, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["plan-sp", "--lengths", "x", "--batch", "0"], "--batch: must be >= 1"),
        (["plan-sp", "--lengths", "x", "--budget", "-5"], "--budget: must be >= 0"),
        (["plan-sp", "--lengths", "x", "--time-limit", "-1"], "--time-limit: must be > 0"),
        (["plan-sp", "--lengths", "x", "--node-limit", "-1"], "--node-limit: must be >= 1"),
        (["plan-sp", "--lengths", "x", "--memory-gib", "nan"], "--memory-gib: must be > 0"),
        (["simulate-sp", "--lengths", "x", "--out", "o", "--batch", "0"], "--batch: must be"),
        (["simulate-sp", "--lengths", "x", "--out", "o", "--steps", "-1"], "--steps: must be"),
        (["calibrate", "--lang", "en", "-o", "c.yaml", "--stop-words", "-3"], "--stop-words"),
        (["quality", "train", "--pos", "p", "--neg", "n", "-o", "m", "--holdout", "1.5"], "< 1"),
        (["quality", "train", "--pos", "p", "--neg", "n", "-o", "m", "--epoch", "0"], "--epoch"),
        (["quality", "train", "--pos", "p", "--neg", "n", "-o", "m", "--lr", "0"], "--lr"),
        (["verify", "a=x", "b=y", "--reference", "r", "--out", "o", "--tokens", "0"], "--tokens"),
        (["profile-gpu", "--layers", "0", "--hidden", "8", "--heads", "2", "--out", "p"], ">= 1"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(argv, expected, capsys):
    usage_error(argv, capsys, expected)


def test_missing_and_broken_files_of_other_commands_are_clear_errors(tmp_path, capsys):
    (tmp_path / "lengths.txt").write_text("\n".join(str(n) for n in range(100, 6500, 100)) + "\n")
    lengths = str(tmp_path / "lengths.txt")
    fails_cleanly(["plan-sp", "--lengths", lengths, "--out", "/dev/null/plan.json"], capsys,
                  "/dev/null/plan.json: Not a directory")  # fmt: skip
    fails_cleanly(["plan-sp", "--lengths", str(tmp_path / "missing.txt")], capsys, "missing.txt")
    fails_cleanly(["plan-sp", "--lengths", lengths, "--tokenizer", str(tmp_path / "no.json")],
                  capsys, "--tokenizer")  # fmt: skip
    broken = tmp_path / "broken"
    broken.mkdir()
    fails_cleanly(["report", str(broken)], capsys, "is not a textmill output folder")
    (broken / ".textmill").mkdir()
    (broken / ".textmill" / "run.json").write_text("{}")  # textmill's, but no finished run
    (broken / "stats.json").write_text("{")
    fails_cleanly(["report", str(broken)], capsys, "not a readable stats.json")
    (broken / "stats.json").write_text("{}")
    fails_cleanly(["report", str(broken)], capsys, "not the stats.json of a finished run")
    fails_cleanly(["rehydrate", str(tmp_path / "nowhere")], capsys, "not a textmill output")
    fails_cleanly(["rehydrate", str(broken)], capsys, "no data/*.parquet")  # textmill's, empty
    config = ["--fineweb2-config", str(tmp_path / "none.yml")]
    fails_cleanly(["calibrate", "--lang", "ja", "-o", str(tmp_path / "c.yaml"), *config],
                  capsys, "none.yml: cannot read")  # fmt: skip
