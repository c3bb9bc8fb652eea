"""The GPU profiling helper: the fit is exact on model data; without a GPU it is skipped."""

import json

import numpy as np
import pytest

from textmill.cli import main
from textmill.plan import profile_gpu
from textmill.plan.profiles import ProfileError, load_model_profile


def test_fit_recovers_the_cost_coefficients_and_activation_slope():
    lengths = np.array([1024, 2048, 4096, 8192, 16384])
    times = 5.128e-6 * lengths**2 + 0.18396 * lengths + 629.36
    peaks = 2000.0 + 4.48 * lengths
    fit = profile_gpu.fit_coefficients(lengths, times, peaks)
    assert fit["alpha1"] == pytest.approx(5.128e-6, rel=1e-6)
    assert fit["alpha2"] == pytest.approx(0.18396, rel=1e-6)
    assert fit["beta"] == pytest.approx(629.36, rel=1e-6)
    assert fit["act"] == pytest.approx(4.48, rel=1e-9)


def test_fit_never_returns_negative_coefficients():
    fit = profile_gpu.fit_coefficients([100, 200, 400], [10.0, 9.0, 8.0])
    assert min(fit["alpha1"], fit["alpha2"], fit["beta"]) >= 0.0 and fit["act"] == 0.0


@pytest.mark.skipif(profile_gpu.gpu_available() is None, reason="a CUDA GPU is present")
def test_without_a_gpu_profiling_is_skipped_cleanly(tmp_path, capsys):
    with pytest.raises(profile_gpu.GpuUnavailable):
        profile_gpu.profile_model("m", layers=2, hidden=64, heads=4)
    out = tmp_path / "m.json"
    argv = ["--layers", "2", "--hidden", "64", "--heads", "4", "--out", str(out)]
    assert profile_gpu.main(argv) == profile_gpu.SKIPPED != 0
    assert "skipped" in capsys.readouterr().err and not out.exists()
    assert main(["profile-gpu", *argv]) == profile_gpu.SKIPPED  # the same through `textmill`
    assert "nothing written" in capsys.readouterr().err and not out.exists()


def test_cpu_smoke_run_builds_a_loadable_profile_shape(tmp_path):
    pytest.importorskip("torch")
    profile = profile_gpu.profile_model(
        "tiny", layers=4, hidden=32, heads=4, vocab=97, lengths=[16, 32, 64],
        profile_layers=2, device="cpu", repeats=1,
    )  # fmt: skip
    assert (profile.layers, profile.hidden, profile.vocab) == (4, 32, 97)
    assert profile.alpha1_ms_per_tok2 >= 0 and profile.alpha2_ms_per_tok >= 0
    out = tmp_path / "tiny.json"
    raw = profile_gpu.model_profile_to_dict(profile)
    out.write_text(json.dumps(raw))
    with pytest.raises(ProfileError, match="act_mib_per_token"):  # CPU cannot measure memory
        load_model_profile(out)
