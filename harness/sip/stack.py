"""The pjsua2 Endpoint: one per process, an explicit event pump, ordered teardown.

Media settings chosen so that what the agent plays reaches the wire intact and
what it receives is recorded intact on a host that keeps time:

* null audio device (no sound card), never auto-closed (`sndAutoCloseTime=-1`):
  closing and re-opening it at call start loses the first frames;
* conference bridge at the codec's clock rate (8 kHz for G.711): no resampling;
* VAD off: with VAD the sender suppresses frames it judges silent, clipping
  speech onsets and sending fewer RTP packets than the prompt holds;
* echo canceller off (`ecTailLen=0`): it would alter the audio being scored;
* a fixed jitter buffer (prefetch min = max = `jb_init_ms`) that never discards
  frames to shrink itself (PJMEDIA_JB_DISCARD_NONE). With PJSIP's adaptive default
  the first ~2 s of received speech came out re-timed by a frame or two while the
  buffer settled (measured: 66 of 592 frames differing from the wire, all in that
  window, bit-exact after it), costing 0.25 MOS-LQO that the path did not cause.
  The test phone is part of the instrument; it must not adapt during the test.

The bridge is clocked by the null device's clock thread, which resynchronises
(dropping frames) when it falls more than 500 ms behind; that happens only when the
host stalls, which the stall guard detects and reports.
"""

from __future__ import annotations

import heapq
import itertools
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pjsua2 as pj

from harness.errors import SipError
from harness.sip.scenario import TlsSession

CODEC_IDS = {"PCMU": "PCMU/8000/1", "PCMA": "PCMA/8000/1", "G722": "G722/16000/1"}
TLS_PROTOCOLS = {pj.PJ_SSL_SOCK_PROTO_TLS1: "TLSv1", pj.PJ_SSL_SOCK_PROTO_TLS1_1: "TLSv1.1",
                 pj.PJ_SSL_SOCK_PROTO_TLS1_2: "TLSv1.2", pj.PJ_SSL_SOCK_PROTO_TLS1_3: "TLSv1.3"}


class _Endpoint(pj.Endpoint):  # type: ignore[misc]
    """Keeps every TLS connection's negotiated version and verification result."""

    def __init__(self) -> None:
        super().__init__()
        self.tls_sessions: list[TlsSession] = []

    def onTransportState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 API
        info = prm.tlsInfo
        if info is None or info.isEmpty():
            return
        state = {pj.PJSIP_TP_STATE_CONNECTED: "connected",
                 pj.PJSIP_TP_STATE_DISCONNECTED: "disconnected"}.get(prm.state, str(prm.state))
        error = ""
        if prm.lastError:
            try:
                error = self.utilStrError(prm.lastError)
            except pj.Error:
                error = str(prm.lastError)
        self.tls_sessions.append(TlsSession(
            time.time(), state, str(info.localAddr), str(info.remoteAddr),
            TLS_PROTOCOLS.get(info.protocol, f"0x{int(info.protocol):x}"), str(info.cipherName),
            int(info.verifyStatus) == 0, tuple(str(m) for m in info.verifyMsgs),
            str(info.remoteCertInfo.subjectCn) if not info.remoteCertInfo.isEmpty() else "",
            error))


def _with_jb_discard_none(cfg: pj.EpConfig) -> pj.EpConfig:
    """Set medConfig.jbDiscardAlgo = PJMEDIA_JB_DISCARD_NONE (0).

    The SWIG binding exposes that enum field only as an opaque pointer, so the value
    goes through pjsua2's own JSON (de)serialiser, which reads it as a number.
    """
    doc = pj.JsonDocument()
    doc.writeObject(cfg)
    text = doc.saveString().replace('"jbDiscardAlgo":        2', '"jbDiscardAlgo":        0')
    if '"jbDiscardAlgo":        0' not in text:
        raise SipError("could not set the jitter buffer discard algorithm (pjsua2 JSON "
                       "layout changed)")
    out = pj.EpConfig()
    doc2 = pj.JsonDocument()
    doc2.loadString(text)
    doc2.readObject(out)
    return out


class SipStack:
    """Owns a worker's Endpoint, its transports and the timer-driven event pump."""

    def __init__(self, log_path: Path, clock_rate: int = 8000, jb_init_ms: int = 60,
                 max_calls: int = 4) -> None:  # the wheel's PJSUA_MAX_CALLS is 4
        self.log_path = log_path
        self.clock_rate = clock_rate
        self.jb_init_ms = jb_init_ms
        self.max_calls = max_calls
        self.ep: pj.Endpoint | None = None
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._codec = ""

    _alive = 0  # pjsua2 allows one Endpoint per process

    def start(self) -> None:
        if SipStack._alive:
            raise SipError("a pjsua2 Endpoint is already running in this process (one per "
                           "process): close the other harness session first")
        ep = _Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0  # callbacks run inside pump(), in this thread
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = self.max_calls
        cfg.uaConfig.userAgent = "beta-harness/0.1 (PJSIP 2.15)"
        cfg.logConfig.level = 3
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.filename = str(self.log_path)
        med = cfg.medConfig
        med.clockRate = self.clock_rate
        med.sndClockRate = self.clock_rate
        med.noVad = True
        med.ecTailLen = 0
        med.sndAutoCloseTime = -1
        med.jbInit = self.jb_init_ms
        med.jbMinPre = self.jb_init_ms
        med.jbMaxPre = self.jb_init_ms
        med.threadCnt = 1
        med.maxMediaPorts = max(64, self.max_calls * 4)
        cfg = _with_jb_discard_none(cfg)
        try:
            ep.libInit(cfg)
            ep.libStart()
            ep.audDevManager().setNullDev()
        except pj.Error as exc:
            ep.libDestroy()
            raise SipError(f"pjsua2 endpoint did not start: {exc.info()}") from exc
        self.ep = ep
        SipStack._alive += 1
        self.set_codec(None)

    def add_udp_transport(self, port: int = 0,
                          address: str = "127.0.0.1") -> tuple[int, int]:
        """A SIP/UDP transport on `address` (the worker's lines' address: the loopback,
        or an access link's line side); returns (transport id, port)."""
        assert self.ep is not None
        tcfg = pj.TransportConfig()
        tcfg.port = port
        tcfg.boundAddress = address
        tcfg.publicAddress = address
        try:
            tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        except pj.Error as exc:
            raise SipError(f"no SIP/UDP transport on {address}:{port}: {exc.info()}") from exc
        return tid, int(self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])

    def add_tls_transport(self, ca_file: Path, cert_file: Path, key_file: Path,
                          port: int = 0, address: str = "127.0.0.1") -> tuple[int, int]:
        """A SIP/TLS transport on `address` (docs/tls-srtp.md): TLS 1.2 only (the wheel's
        OpenSSL 1.0.2k has no TLS 1.3), the peer's certificate verified against
        `ca_file` when connecting (name included); `cert_file`/`key_file` are what it
        presents when the switch connects to it. Returns (transport id, port).

        The wheel allows 8 transports per process, TLS included (PJ_ETOOMANY)."""
        assert self.ep is not None
        tcfg = pj.TransportConfig()
        tcfg.port = port
        tcfg.boundAddress = address
        tcfg.publicAddress = address
        tls = tcfg.tlsConfig
        tls.CaListFile = str(ca_file)
        tls.certFile = str(cert_file)
        tls.privKeyFile = str(key_file)
        tls.method = pj.PJSIP_TLSV1_2_METHOD
        tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2
        tls.verifyServer = True
        tls.verifyClient = False
        tls.requireClientCert = False
        try:
            tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tcfg)
        except pj.Error as exc:
            raise SipError(f"no SIP/TLS transport on {address}: {exc.info()}") from exc
        return tid, int(self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])

    @property
    def tls_sessions(self) -> list[TlsSession]:
        """Every TLS connection's state change so far (oldest first)."""
        return self.ep.tls_sessions if isinstance(self.ep, _Endpoint) else []

    def set_codec(self, name: str | None) -> None:
        """Offer only `name` in the next call placed; None: accept every codec a plan
        may ask for (an answerer takes the offer's first codec it supports, RFC 3264
        §6.1), which is how an agent stands between calls."""
        key = name or "*"
        if key == self._codec:
            return
        if name is not None and name not in CODEC_IDS:
            raise SipError(f"codec {name!r} not supported (known: {', '.join(CODEC_IDS)})")
        assert self.ep is not None
        for info in self.ep.codecEnum2():
            self.ep.codecSetPriority(info.codecId, 0)
        for rank, codec in enumerate([name] if name else list(CODEC_IDS)):
            self.ep.codecSetPriority(CODEC_IDS[codec], 255 - rank)
        self._codec = key

    # -- event pump ------------------------------------------------------------------
    def at(self, delay_s: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._seq), fn))

    def pump(self, max_ms: int = 10) -> None:
        assert self.ep is not None
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            try:
                fn()
            except Exception:  # noqa: BLE001 - one action failing must not end the pump
                traceback.print_exc()  # the worker's .out log
        wait_ms = max_ms
        if self._timers:
            wait_ms = max(0, min(max_ms, int((self._timers[0][0] - time.monotonic()) * 1000)))
        self.ep.libHandleEvents(wait_ms)

    def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump()

    def close(self) -> None:
        """Destroy the library. Callers must have dropped every Call/Account first."""
        if self.ep is None:
            return
        self._timers.clear()
        import gc

        from harness.sip.agent import forget_released

        forget_released()
        gc.collect()
        try:
            # every call is down and no account registers through pjsua (the harness's
            # registrar does, harness/sip/register.py): nothing to wait for, where
            # pjsua_destroy otherwise sleeps 1 s for answers to its last requests
            self.ep.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)
        finally:
            self.ep = None
            SipStack._alive -= 1
