"""The fax terminals (harness/media/fax.py: libspandsp T.30 and libtiff through ctypes)
and the fax row's checks (harness/verdict/call_types.py fax_checks), with two terminals
joined sample for sample in memory: no network, the same engine the agents run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.media import fax
from harness.model import CallSpec, Expect, PlanRowError
from harness.verdict.call_types import fax_checks


def _fax_call(page: Path, into: Path, loss: float = 0.0, seed: int = 1,
              ) -> tuple[fax.FaxResult, fax.FaxResult, float]:
    """Send `page` from a calling terminal to an answering one, 20 ms at a time, each
    frame lost (silence) with probability `loss` each way; (sender's, receiver's
    result, seconds of call)."""
    rng = random.Random(seed)
    tx = fax.FaxTerminal("send", page, calling=True)
    rx = fax.FaxTerminal("receive", into, calling=False)
    frames = 0
    while not (tx.done and rx.done) and frames < 120 * 50:
        a, b = tx.tx(), rx.tx()
        rx.rx(bytes(len(a)) if rng.random() < loss else a)
        tx.rx(bytes(len(b)) if rng.random() < loss else b)
        frames += 1
    results = tx.result(), rx.result()
    tx.close()
    rx.close()
    return results[0], results[1], frames * 0.02


def test_the_test_page_is_a_fax_page_libtiff_reads_back_row_for_row(tmp_path: Path) -> None:
    page = fax.write_test_page(tmp_path / "page.tif")
    rows = fax.read_page_rows(page)
    assert rows == fax.test_page_rows()
    assert len(rows) == fax.ROWS and all(len(r) == fax.WIDTH // 8 for r in rows)
    assert len({r for r in rows}) > 10  # not a blank page: many different rows


def test_a_page_sent_over_a_clean_path_arrives_bit_for_bit(tmp_path: Path) -> None:
    page = fax.write_test_page(tmp_path / "page.tif")
    sent, got, seconds = _fax_call(page, tmp_path / "rx.tif")
    assert sent.ok and got.ok, (sent, got)
    assert (sent.pages_tx, got.pages_rx, got.bit_rate) == (1, 1, 14400)
    assert 15.0 < seconds < 60.0  # T.30: training, the page at 14 400 bps, post-message
    rows = fax.read_page_rows(tmp_path / "rx.tif")
    assert fax_checks(sent, got, fax.test_page_rows(), rows) == []


def test_one_percent_of_frames_lost_breaks_the_fax_and_the_checks_say_how(
        tmp_path: Path) -> None:
    page = fax.write_test_page(tmp_path / "page.tif")
    sent, got, _ = _fax_call(page, tmp_path / "rx.tif", loss=0.01)
    assert not (sent.ok and got.ok)
    rows = fax.read_page_rows(got.file) if got.file is not None else None
    fails = fax_checks(sent, got, fax.test_page_rows(), rows)
    assert fails and all(f.startswith("fax: ") for f in fails), fails
    assert any("ended T.30 with" in f for f in fails), fails


def test_a_damaged_or_missing_page_is_named() -> None:
    ok = fax.FaxResult("send", 0, "OK", 1, 0, 14400, False, 0, None)
    got = fax.FaxResult("receive", 0, "OK", 0, 1, 14400, False, 3, Path("/x.tif"))
    sent = fax.test_page_rows()
    damaged = list(sent)
    damaged[7] = bytes(len(damaged[7]))
    damaged[9] = bytes(len(damaged[9]))
    assert fax_checks(ok, got, sent, damaged) == [
        "fax: the page received has 400 rows, 2 of them differing from the 400 rows sent, "
        "the first at row 7"]
    assert fax_checks(ok, got, sent, sent[:300]) == [
        "fax: the page received has 300 rows, 0 of them differing from the 400 rows sent"]
    assert fax_checks(ok, None, sent, None) == [
        "fax: the receiving terminal never started (no media reached it)"]
    none = fax.FaxResult("receive", 0, "OK", 0, 0, 14400, False, 0, None)
    assert fax_checks(ok, none, sent, None) == [
        "fax: the receiving terminal ended with no page received"]


def test_a_fax_row_is_checked_when_written() -> None:
    CallSpec("7.13", "fax", "site6/12", "site7/06", fax=True,
             expect=Expect(mos_lqo_min=None, rings="site7/06"))
    with pytest.raises(PlanRowError) as err:
        CallSpec("7.13", "fax", "site6/12", "site7/06", fax=True, codec="G722",
                 expect=Expect(rings="site7/06"))
    assert "fax: a G.711 call" in str(err.value)
