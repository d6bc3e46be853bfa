"""The report in a real browser: headless Chromium renders the page from file://,
with no network and no JavaScript needed, and the acceptance table is in the DOM."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.report.render import write_report
from harness.report.store import RunRecord

CHROMIUM = "/usr/bin/chromium"
DATA = Path(__file__).parent.parent / "data" / "report" / "results.json"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000"]

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                 reason="chromium is not installed (scripts/bootstrap.sh)")]


class _AcceptanceRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.table = False
        self.rows: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("id") == "acceptance"
        elif tag == "tr" and self.table and "acceptance" in (a.get("class") or "").split():
            self.rows.append(a.get("data-call-type") or "")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def index(tmp_path: Path) -> Path:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    return write_report(RunRecord.from_document(doc, tmp_path / "gone"), tmp_path / "report")


def test_the_report_renders_in_headless_chromium(tmp_path: Path, index: Path) -> None:
    shot = tmp_path / "front.png"
    _chromium(tmp_path, f"--screenshot={shot}", index.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 1000)
    assert len(data) > 40_000  # a blank or error page compresses to a few kB


def test_the_dom_has_one_acceptance_row_per_call_type(tmp_path: Path, index: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", index.as_uri()).stdout
    parser = _AcceptanceRows()
    parser.feed(dom)
    assert parser.rows == ["on-net cross-site", "delay"]
    assert "NOT ACCEPTED" in dom
