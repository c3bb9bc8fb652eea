"""`textmill mix fit` / `mix search`: law recovery, the critical ratio, bad CSVs, a tiny search."""

from __future__ import annotations

import argparse
import csv
import json
import math

import numpy as np
import pytest

from textmill.cli.mix_law import add_fit_parser, add_search_parser
from textmill.mix.law import LawInputError, Tolerance, fit_cmr, read_measurements

GENERAL = dict(E=1.8, A=400.0, alpha=0.45, B=0.6, beta=1.3)  # power_r
DOMAIN = dict(E=1.2, A=900.0, alpha=0.4, c=0.05)  # effective_r
RATIOS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
BUDGETS = (1e6, 4e6, 1.6e7, 6.4e7)


def synthetic(noise: float = 0.002, seed: int = 0) -> dict[str, np.ndarray]:
    """Points of known laws plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    r = np.repeat(RATIOS, len(BUDGETS))
    d = np.tile(BUDGETS, len(RATIOS))
    g, m = GENERAL, DOMAIN
    general = g["E"] + g["A"] * d ** -g["alpha"] + g["B"] * r ** g["beta"]
    domain = m["E"] + m["A"] * (d * (r + m["c"])) ** -m["alpha"]
    return {
        "ratio": r,
        "tokens": d,
        "general_loss": general + rng.normal(0, noise, len(r)),
        "domain_loss": domain + rng.normal(0, noise, len(r)),
    }


def write_csv(path, columns: dict, rows: int | None = None) -> str:
    names = list(columns)
    count = len(next(iter(columns.values()))) if rows is None else rows
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for i in range(count):
            writer.writerow([columns[name][i] for name in names])
    return str(path)


def mix_parser() -> argparse.ArgumentParser:
    """What textmill/cli/mix.py builds: a `mix` group with our two sub-parsers."""
    parser = argparse.ArgumentParser(prog="textmill mix")
    actions = parser.add_subparsers(dest="mix_command", required=True)
    add_fit_parser(actions)
    add_search_parser(actions)
    return parser


def run_cli(argv: list[str]) -> int:
    args = mix_parser().parse_args(argv)
    return args.handler(args)


def test_fit_recovers_the_parameters_of_a_known_law_from_noisy_points():
    fit = fit_cmr(synthetic(), tolerance=0.05, forms=["power_r", "effective_r"])
    general = next(f for f in fit.general.fits if f.form == "power_r").parameters
    assert general["E"] == pytest.approx(GENERAL["E"], abs=0.02)
    assert general["alpha"] == pytest.approx(GENERAL["alpha"], abs=0.02)
    assert general["A"] == pytest.approx(GENERAL["A"], rel=0.25)
    assert general["B"] == pytest.approx(GENERAL["B"], abs=0.03)
    assert general["beta"] == pytest.approx(GENERAL["beta"], abs=0.06)
    domain = fit.domain.best
    assert domain.form == "effective_r"  # the true form wins by AICc
    assert domain.parameters["alpha"] == pytest.approx(DOMAIN["alpha"], abs=0.02)
    assert domain.parameters["c"] == pytest.approx(DOMAIN["c"], rel=0.1)
    assert domain.parameters["E"] == pytest.approx(DOMAIN["E"], abs=0.03)
    assert domain.rmse < 0.003 and domain.max_abs_error < 0.01  # noise is 0.002
    assert not domain.at_bounds
    # general loss rises by B r^beta above the r=0 loss at any budget: CMR = (tol / B)^(1/beta)
    expected = (0.05 / GENERAL["B"]) ** (1 / GENERAL["beta"])
    assert fit.critical.ratio == pytest.approx(expected, abs=0.01)
    assert fit.critical.target_tokens == max(BUDGETS)
    assert fit.critical.bounded and not fit.critical.extrapolated
    at_ratio = fit.general.best.predict(fit.critical.ratio, max(BUDGETS))
    assert at_ratio == pytest.approx(fit.critical.baseline_loss + 0.05, abs=1e-6)


def test_all_forms_rank_the_generating_form_near_the_top_with_residuals_per_point():
    fit = fit_cmr(synthetic())
    ranked = [f.form for f in fit.general.fits]
    # the generating form or the one that nests it (interaction_r with gamma = 0)
    assert ranked[0] in {"power_r", "interaction_r"}
    assert ranked.index("power_r") <= 1
    assert len(fit.general.best.residuals) == len(RATIOS) * len(BUDGETS)
    assert fit.general.best.rmse < 0.003
    aiccs = [f.aicc for f in fit.general.fits]
    assert aiccs == sorted(aiccs)


def test_critical_ratio_follows_tolerance_baseline_and_target_budget():
    data = synthetic(noise=0.0)
    relative = fit_cmr(data, tolerance="2%", forms=["power_r"])
    tol = 0.02 * relative.critical.baseline_loss
    assert relative.critical.tolerance_nats == pytest.approx(tol)
    assert relative.critical.ratio == pytest.approx((tol / 0.6) ** (1 / 1.3), abs=0.005)
    # a baseline below what the law reaches at r=0: no ratio keeps within tolerance
    low = fit_cmr(data, tolerance=0.01, baseline_loss=1.0, forms=["power_r"])
    assert low.critical.ratio is None and "none" in low.summary()
    # a tolerance the law never exceeds: every ratio qualifies
    loose = fit_cmr(data, tolerance=5.0, forms=["power_r"])
    assert loose.critical.ratio == 1.0 and not loose.critical.bounded
    beyond = fit_cmr(data, tolerance=0.05, target_tokens=1e9, forms=["power_r"])
    assert any("target tokens" in note for note in beyond.critical.extrapolated)
    with pytest.raises(ValueError, match="tolerance"):
        Tolerance.parse("a lot")


def test_cli_fit_prints_the_cmr_and_writes_report_and_plot(tmp_path, capsys):
    path = write_csv(tmp_path / "points.csv", synthetic())
    assert run_cli(["fit", path, "--tolerance", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "critical mixture ratio" in out and "RMSE" in out
    report = json.loads((tmp_path / "points.law.json").read_text())
    ratio = report["critical_mixture_ratio"]["ratio"]
    assert ratio == pytest.approx((0.05 / 0.6) ** (1 / 1.3), abs=0.01)
    assert f"{ratio:.4f}" in out
    assert report["general_loss"]["forms"][0]["delta_aicc"] == 0
    assert len(report["general_loss"]["forms"][0]["residuals"]) == report["points"]
    assert (tmp_path / "points.law.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("domain_loss"), "missing column(s) domain_loss"),
        (lambda c: c["general_loss"].__setitem__(3, "nan"), "line 5: general_loss = nan is not"),
        (lambda c: c["general_loss"].__setitem__(2, "abc"), "line 4: general_loss is 'abc'"),
        (lambda c: c["tokens"].__setitem__(0, 0), "line 2: tokens = 0 must be > 0"),
        (lambda c: c["ratio"].__setitem__(6, 1.5), "line 8: ratio = 1.5 is outside [0, 1]"),
        (lambda c: c["ratio"].__setitem__(6, -0.1), "ratio = -0.1 is outside [0, 1]"),
        (lambda c: c.update({k: v[:4] for k, v in c.items()}), "4 measurement(s)"),
        (lambda c: c.update(ratio=[0.2] * len(c["ratio"])), "2 distinct ratios"),
    ],
)
def test_cli_fit_names_file_and_line_of_bad_measurements(tmp_path, capsys, change, message):
    columns = {k: list(v) for k, v in synthetic().items()}
    change(columns)
    path = write_csv(tmp_path / "bad.csv", columns)
    assert run_cli(["fit", path]) == 2
    error = capsys.readouterr().err
    assert message in error and "bad.csv" in error and error.count("\n") == 1
    with pytest.raises(LawInputError, match="bad.csv"):
        read_measurements(path)


def test_cli_fit_refuses_a_missing_file(tmp_path, capsys):
    assert run_cli(["fit", str(tmp_path / "none.csv")]) == 2
    assert "none.csv" in capsys.readouterr().err


# ---------------------------------------------------------------- the search


def tiny_corpora(tmp_path) -> tuple[str, str]:
    """A general corpus of word salad and a domain corpus of arithmetic: easy to tell apart."""
    rng = np.random.default_rng(0)
    words = np.array(list("abcdefghij")) + np.array(["at", "on", "er", "ly", "ing"] * 2)
    general = tmp_path / "general.jsonl"
    domain = tmp_path / "domain.jsonl"
    with open(general, "w") as handle:
        for _ in range(150):
            handle.write(json.dumps({"text": " ".join(rng.choice(words, 50))}) + "\n")
    with open(domain, "w") as handle:
        for _ in range(150):
            terms = [
                f"{a} {op}"
                for a, op in zip(rng.integers(0, 99, 30), rng.choice(list("+-*="), 30), strict=True)
            ]
            handle.write(json.dumps({"text": " ".join(terms)}) + "\n")
    return str(general), str(domain)


SEARCH_GRID = ["--size", "tiny", "--ratios", "0", "0.5", "1", "--tokens", "256", "512", "768"]


def test_tiny_search_end_to_end_writes_measurements_fit_reads(tmp_path, capsys, monkeypatch):
    general, domain = tiny_corpora(tmp_path)
    out = tmp_path / "search"
    argv = ["search", "--general", general, "--domain", domain, "-o", str(out), *SEARCH_GRID]
    assert run_cli([*argv, "--forms", "power_r", "effective_r", "effective_1mr"]) == 0
    assert "critical mixture ratio" in capsys.readouterr().out
    with open(out / "measurements.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 9
    assert sorted({float(r["ratio"]) for r in rows}) == [0.0, 0.5, 1.0]
    assert sorted({int(r["tokens"]) for r in rows}) == [256, 512, 768]
    for row in rows:  # the mixed windows add up to the budget
        assert int(row["general_tokens"]) + int(row["domain_tokens"]) == int(row["tokens"])
        assert math.isfinite(float(row["general_loss"])) and float(row["domain_loss"]) > 0
    measured = read_measurements(out / "measurements.csv")
    assert len(measured) == 9
    report = json.loads((out / "search.json").read_text())
    assert report["corpora"]["domain"]["reference_from"] == "held out"
    assert report["corpora"]["general"]["reference_documents"] > 0
    assert (out / "law.json").is_file() and (out / "law.png").is_file()

    # a search killed while writing its last row, run again, trains that point only
    import textmill.mix.search as search_module

    lines = (out / "measurements.csv").read_text().splitlines(keepends=True)
    (out / "measurements.csv").write_text("".join(lines[:-1]) + lines[-1][:20])
    trained = []
    original = search_module.train_and_evaluate

    def counted(*args, **kwargs):
        trained.append(args[3])
        return original(*args, **kwargs)

    monkeypatch.setattr(search_module, "train_and_evaluate", counted)
    assert run_cli([*argv, "--forms", "power_r", "effective_r", "effective_1mr"]) == 0
    assert len(trained) == 1
    with open(out / "measurements.csv") as handle:
        resumed = list(csv.DictReader(handle))
    assert resumed[:8] == rows[:8] and len(resumed) == 9
    assert resumed[8]["general_loss"] == rows[8]["general_loss"]  # the same model again
    # other settings in the same folder are refused, not mixed in
    assert run_cli([*argv[:-1], "1024"]) == 2
    assert "other settings (tokens differ)" in capsys.readouterr().err


def test_search_refuses_a_domain_corpus_too_small_for_the_grid(tmp_path, capsys):
    general, domain = tiny_corpora(tmp_path)
    small = tmp_path / "small_domain.jsonl"
    with open(domain) as source, open(small, "w") as target:
        target.writelines(source.readlines()[:15])
    argv = ["search", "--general", general, "--domain", str(small), "-o", str(tmp_path / "o")]
    assert run_cli([*argv, *SEARCH_GRID]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("textmill mix search: domain corpus: ")
    assert "training tokens after the held-out reference; the grid needs 769" in error


def test_search_continues_every_point_from_a_base_model_and_keeps_general_loss_near_it(
    tmp_path, capsys
):
    general, domain = tiny_corpora(tmp_path)
    out = tmp_path / "cpt"
    argv = ["search", "--general", general, "--domain", domain, "-o", str(out), *SEARCH_GRID]
    assert run_cli([*argv, "--pretrain-tokens", "512", "--forms", "power_r", "effective_r"]) == 0
    assert "base model seed 0 (512 general tokens)" in capsys.readouterr().err
    base = json.loads((out / "base_models.json").read_text())["0"]
    report = json.loads((out / "search.json").read_text())
    critical = report["critical_mixture_ratio"]
    assert critical["baseline_from"] == "base model"
    assert critical["baseline_loss"] == pytest.approx(base["general_loss"])
    assert report["settings"]["pretrain_tokens"] == 512
    # the continued models start where the base stopped: at r=0 more general data helps
    rows = [r for r in report["runs"] if r["ratio"] == 0.0]
    assert min(r["general_loss"] for r in rows) < base["general_loss"]


def test_fit_reads_a_spreadsheet_csv_with_a_bom_and_extra_columns(tmp_path):
    columns = {"run": [f"r{i}" for i in range(28)], **synthetic()}
    path = write_csv(tmp_path / "sheet.csv", columns)
    data = (tmp_path / "sheet.csv").read_bytes()
    (tmp_path / "sheet.csv").write_bytes(b"\xef\xbb\xbf" + data)
    measured = read_measurements(path)
    assert len(measured) == 28 and measured.tokens.max() == max(BUDGETS)
