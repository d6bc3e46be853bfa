"""Fixtures for the report tests: a real (trimmed) results document and a run
directory with tiny WAVs where its calls' recordings were."""

import json
import wave
from pathlib import Path

import pytest

from harness.report.store import RunRecord

REPORT_DATA = Path(__file__).parent.parent / "data" / "report" / "results.json"


def _tiny_wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 800)  # 0.1 s


@pytest.fixture
def results_doc() -> dict:
    return json.loads(REPORT_DATA.read_text(encoding="utf-8"))


@pytest.fixture
def run_dir(tmp_path: Path, results_doc: dict) -> Path:
    """reports/<run-id>/ with every WAV the document names (and the references)."""
    run = tmp_path / "reports" / results_doc["run_id"]
    for call in results_doc["calls"]:
        for rel in call["artifacts"].values():
            if rel.endswith(".wav"):
                _tiny_wav(run / rel)
            else:
                (run / rel).parent.mkdir(parents=True, exist_ok=True)
                (run / rel).write_bytes(b"\xd4\xc3\xb2\xa1")
    for name in ("allison-a", "allison-b"):
        _tiny_wav(run / "reference" / f"{name}.wav")
    (run / "pjsua.log").write_text("pjsua log\n")
    return run


@pytest.fixture
def report_run(results_doc: dict, run_dir: Path) -> RunRecord:
    return RunRecord.from_document(results_doc, run_dir)
