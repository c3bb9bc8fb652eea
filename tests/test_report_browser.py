"""report.html in a real browser (headless Debian chromium): no console errors, every plot
drawn, and a screenshot saved for a person to look at. Skipped where chromium is absent."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from textmill.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
)  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "demo-out"
    assert main(["demo", "-o", str(out), "--workers", "1", "--no-progress"]) == 0
    return out / "report.html"


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_report_renders_every_plot_without_console_errors(report, tmp_path):
    result = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    body = re.search(r"<body([^>]*)>", result.stdout).group(1)
    plots = int(re.search(r'data-plots="(\d+)"', body).group(1))
    assert plots >= 8  # funnel x2, lengths x3, lid score, clusters, terms, vocabulary
    assert f'data-plots-rendered="{plots}"' in body
    assert 'data-errors="0"' in body
    assert result.stdout.count('data-rendered="yes"') == plots


def test_report_screenshot_shows_a_drawn_page(report, tmp_path):
    from PIL import Image

    screenshot = tmp_path / "report.png"
    result = chromium(
        tmp_path, "--window-size=1400,5000", f"--screenshot={screenshot}", report.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    image = Image.open(screenshot).convert("RGB")
    assert image.size == (1400, 5000)
    top = image.crop((0, 0, 1400, 1500))
    assert len(top.getcolors(maxcolors=1 << 20) or []) > 50  # text and bars, not a blank page
    print(f"screenshot: {screenshot}")
