"""SIP request text as the agents receive it: the Request-URI's parts and the headers.

Plain string handling, no pjsua2: the worker uses it to route an INVITE, the runner
to read what the far end received. The text itself is read by `harness.sip.text`."""

from __future__ import annotations

from harness.sip.text import parse_lenient, start_line


def ruri_parts(msg: str) -> tuple[str, int, dict[str, str]]:
    """(user, port, URI parameters) of a request's Request-URI."""
    first = start_line(msg).split(" ")
    return uri_parts(first[1] if len(first) > 1 else "")


def uri_parts(uri: str) -> tuple[str, int, dict[str, str]]:
    """(user, port, URI parameters) of a SIP URI ('sip:user@host:port;param=value')."""
    userinfo, _, hostpart = uri.partition("@")
    user = userinfo.split(":", 1)[-1].split(";")[0] if hostpart else ""
    hostport, *params = (hostpart or uri).split(";")
    port = hostport.rsplit(":", 1)[1] if hostport.count(":") >= 1 else "5060"
    pmap = {p.partition("=")[0]: p.partition("=")[2] for p in params}
    return user, int(port) if port.isdigit() else 0, pmap


def parse_request(msg: str) -> dict[str, str]:
    """Start line and headers of a SIP request (full lower-case names, compact forms
    expanded, each name's first field value)."""
    parsed = parse_lenient(msg)
    out = {"request-line": parsed.start_line}
    for name, value in parsed.field_map().items():
        out.setdefault(name, value)
    return out
