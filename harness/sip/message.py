"""SIP request text as the agents receive it: the Request-URI's parts and the headers.

Plain string handling, no pjsua2: the worker uses it to route an INVITE, the runner
to read what the far end received."""

from __future__ import annotations


def ruri_parts(msg: str) -> tuple[str, int, dict[str, str]]:
    """(user, port, URI parameters) of a request's Request-URI."""
    first = msg.split("\r\n", 1)[0].split(" ")
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
    """Start line and headers of a SIP request (lower-case names, first value)."""
    head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
    out = {"request-line": head[0]}
    compact = {"f": "from", "t": "to", "i": "call-id", "m": "contact"}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = compact.get(name.strip().lower(), name.strip().lower())
            out.setdefault(key, value.strip())
    return out
