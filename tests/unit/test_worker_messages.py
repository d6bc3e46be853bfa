"""The farm <-> worker messages (harness/sip/messages.py) cross a pipe pickled: each
kind survives the trip as itself, equal to what was sent."""

from __future__ import annotations

import multiprocessing
import pickle

from harness.sip import messages as m
from harness.sip.scenario import LegOutcome


def _leg() -> LegOutcome:
    return LegOutcome("a", "site1/01", "call-1", (), 200, None, None, 8.0, 8.1)


def test_every_message_kind_survives_pickling_as_itself() -> None:
    samples = [m.Finish("k"), m.Abort("kamailio exited"), m.Drop("site1/01"), m.Stop(),
               m.Ready(5060, 5061), m.Failed("did not start"), m.Stopped(),
               m.Stalls(((1.0, 0.2),)), m.Expected("k"),
               m.ADone("k", _leg(), "", 1.0, 2.0, (_leg(),)), m.Finished("k", (_leg(),)),
               m.Adopted("site1/01", ""), m.Dropped("site1/01", "not hosted here")]
    for msg in samples:
        back = pickle.loads(pickle.dumps(msg))
        assert type(back) is type(msg) and back == msg


def test_a_message_crosses_a_real_pipe() -> None:
    here, there = multiprocessing.Pipe()
    here.send(m.ADone("k", _leg(), "why", 1.0, 2.0))
    got = there.recv()
    assert isinstance(got, m.ADone) and got.leg.call_id == "call-1" and got.more == ()
