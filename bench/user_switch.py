"""Start a Kamailio + rtpengine as *a user's* switch would run: in its own process,
with its own ports, password and database, and write the YAML that points the
unchanged beta plan at it. Stop it with Ctrl-C.

    BETA_LINE_PASSWORD=s3cret .venv/bin/python bench/user_switch.py /tmp/user-switch
    BETA_LINE_PASSWORD=s3cret ./bin/beta --sut /tmp/user-switch/sut.yaml
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from harness.config import NumbersConfig, SutConfig
from harness.numberplan import NumberPlan
from harness.softswitch.kamailio import EmbeddedKamailio
from harness.softswitch.process import free_udp_port, free_udp_range


def main() -> None:
    run = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/user-switch").resolve()
    run.mkdir(parents=True, exist_ok=True)
    password = os.environ["BETA_LINE_PASSWORD"]
    sip_port, pstn_port = free_udp_port(), free_udp_range(1, 30400, 32700)
    switch = EmbeddedKamailio(SutConfig(sip_port=sip_port), run)
    switch.start(NumberPlan.from_config(NumbersConfig(line_password=password)), pstn_port)
    (run / "sut.yaml").write_text(
        "sut:\n  kind: external\n  sip_host: 127.0.0.1\n"
        f"  sip_port: {sip_port}\n  domain: beta.test\n  pstn_port: {pstn_port}\n"
        f"  cdr_uri: sqlite:///{switch.acc_db.resolve()}\n"
        "numbers:\n  line_password: ${BETA_LINE_PASSWORD}\n")
    print(f"switch up on 127.0.0.1:{sip_port}; config: {run / 'sut.yaml'}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while switch.alive():
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        switch.stop()


if __name__ == "__main__":
    main()
