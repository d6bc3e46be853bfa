"""A voicemail row's steps after its call (harness/pstn/voicemail.py is the platform).

The row's call is the deposit: a line with a mailbox rings unanswered, the switch
forwards the call to the voicemail platform, which answers (its greeting), and the
caller leaves its speech. Then, in order:

1. whose mailbox: what the switch sent the platform must name the line dialled
   (`mailbox_of`: Diversion, History-Info, a Request-URI target);
2. the message-waiting indicator: the platform NOTIFYs the line through the switch
   (RFC 3842); the line must get "Messages-Waiting: yes" within `MWI_WITHIN_S`;
3. the retrieval: the line calls the pilot, sends its digits, and hears the message
   (a call of its own, measured and scored like any: harness/run/runner.py), its
   speech scored against the caller's reference (harness/run/scoring.py);
4. the indicator cleared: "Messages-Waiting: no" reaches the line.

Each step's figures go to the row's folder as voicemail.json.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.model import CallSpec, Expect
from harness.numberplan import NumberPlan
from harness.pstn.voicemail import MwiSender, Summary, mailbox_of, notify_summary
from harness.sip.farm import AgentFarm
from harness.sip.scenario import CallOutcome
from harness.vocab import VOICEMAIL, VOICEMAIL_SEAT

MWI_WITHIN_S = 4.0  # a NOTIFY the switch accepted reaches the line within this
RETRIEVE_AT_S = 1.0  # the line sends its digits this long after the platform answers
RETRIEVAL_PAD_S = 3.0  # the retrieval call talks the message's length and this much more


@dataclass
class VoicemailSteps:
    """The platform's side of one voicemail row, and what each step saw."""

    plan: NumberPlan
    mwi: MwiSender
    farm: AgentFarm
    spec: CallSpec
    evidence: dict[str, object] = field(default_factory=dict)

    def deposit(self, out: CallOutcome) -> tuple[str, Path | None, list[str]]:
        """(the mailbox's line, the message recorded, failures) of the row's call: the
        platform answered it (else the row's own checks say who did), the INVITE named
        the line dialled, and the platform recorded the caller."""
        far = out.b
        if far is None or far.agent_name != VOICEMAIL_SEAT or out.a.final_code != 200:
            return "", None, []  # never reached the platform: the ringing checks say so
        boxes = {self.plan.line(b).number: b for b in self.plan.voicemail_boxes}
        request = dict(far.request)
        box, how = mailbox_of(request, boxes, self.plan.home_npa)
        self.evidence["deposit"] = {"mailbox": box, "found_by": how,
                                    "request_line": request.get("request-line", ""),
                                    "diversion": request.get("diversion", ""),
                                    "history_info": request.get("history-info", "")}
        if not box:
            return "", None, [f"voicemail: {how}"]
        fails = [] if box == self.spec.dial else [
            f"voicemail: the message was left in {box}'s mailbox ({how}), not in "
            f"{self.spec.dial}'s"]
        message = far.record_wav
        if message is None or not message.exists():
            return box, None, [*fails, "voicemail: the platform recorded no message"]
        return box, message, fails

    def told(self, line: str, summary: Summary) -> list[str]:
        """The platform NOTIFYs `line` with `summary`, through the switch; failures
        unless the line got a NOTIFY saying the same within MWI_WITHIN_S."""
        number = self.plan.line(line).number
        since = time.time()
        code = self.mwi.notify(number, summary)
        want = "yes" if summary.waiting else "no"
        step: dict[str, object] = {"sent": summary.describe(), "switch_answered": code}
        self.evidence[f"mwi_{want}"] = step
        if code is None:
            return [f"voicemail: the switch never answered the platform's NOTIFY "
                    f"message-summary for {line}"]
        if code >= 300:
            return [f"voicemail: the switch refused the platform's NOTIFY message-summary "
                    f"for {line} ({code})"]
        deadline = since + MWI_WITHIN_S
        got: list[tuple[float, Summary | None]] = []
        while True:
            got = [(n.t_wall - since, notify_summary(n.message))
                   for n in self.farm.notices_to(line, since)]
            step["line_got"] = [{"after_s": round(t, 3),
                                 "summary": s.describe() if s else "not a message-summary"}
                                for t, s in got]
            if any(s is not None and s.waiting == summary.waiting for _, s in got):
                return []
            if time.time() >= deadline:
                break
            time.sleep(0.05)
        seen = "; ".join(f"{s.describe() if s else 'a NOTIFY that is no message-summary'} "
                         f"after {t:.1f} s" for t, s in got) or "nothing"
        return [f"voicemail: {line} was never told Messages-Waiting: {want} (the switch "
                f"answered the platform's NOTIFY {code}; the line got {seen} within "
                f"{MWI_WITHIN_S:.0f} s)"]

    def retrieval(self, line: str, message: Path, message_s: float) -> CallSpec:
        """The line's call to the pilot to hear `message`: a further call of the row."""
        spec = self.spec
        # scored as the row is (the message is the row's speech)
        expect = Expect(rings=VOICEMAIL_SEAT, call_class="onnet")
        if not spec.expect.scored:
            expect = replace(expect, mos_lqo_min=None)
        return CallSpec(f"{spec.plan_id}.retrieval", f"{spec.call_type}: retrieval", line,
                        VOICEMAIL, talk_s=message_s + RETRIEVE_AT_S + RETRIEVAL_PAD_S,
                        dtmf_a=self.plan.voicemail_retrieve, dtmf_at_s=RETRIEVE_AT_S,
                        codec=spec.codec, retrieves=str(message),
                        expect=expect,
                        description=f"{line} calls the voicemail pilot, sends "
                                    f"{self.plan.voicemail_retrieve} and hears its message")

    def write(self, call_dir: Path) -> None:
        (call_dir / "voicemail.json").write_text(json.dumps(self.evidence, indent=2))
