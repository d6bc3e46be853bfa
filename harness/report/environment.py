"""The run's environment as a report prints it: secrets masked, the config unfolded.

Config secrets arrive already masked (`HarnessConfig.redacted()`); this is the last
line of defence before anything is stored or printed: every key naming a password,
secret or token is masked at any depth, JSON text is unfolded and walked too, and a
URI's `user:password@` is masked.
"""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(r"password|passwd|passphrase|^pass$|secret|token|credential|"
                         r"api[_-]?key|private[_-]?key", re.I)
_URI_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@", re.I)


def redact(value: Any, key: str = "") -> Any:
    """A copy of `value` with every secret masked; JSON text comes back unfolded."""
    if key and _SECRET_KEY.search(key):
        return MASK if value not in (None, "", [], {}) else value
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        unfolded = _json_object(value)
        if unfolded is not None:
            return redact(unfolded)
        return _URI_PASSWORD.sub(lambda m: f"{m.group('scheme')}:{MASK}@", value)
    return value


def redact_text(text: str) -> str:
    """Mask `user:password@` in free text (log lines, error messages)."""
    return _URI_PASSWORD.sub(lambda m: f"{m.group('scheme')}:{MASK}@", text)


def _json_object(text: str) -> dict[str, Any] | None:
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, printable value) rows for a nested mapping, in its own order."""
    if isinstance(value, dict) and value:
        rows: list[tuple[str, str]] = []
        for k, v in value.items():
            rows += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    if isinstance(value, list):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, "" if value is None else str(value))]


def codecs_in_run(calls: tuple[dict[str, Any], ...]) -> list[str]:
    """Codecs the plan asked for and the wire carried, as seen in the calls."""
    seen: list[str] = []
    for c in calls:
        names = [c.get("codec")] + [s.get("codec") for s in (c.get("streams") or {}).values()
                                    if isinstance(s, dict)]
        for name in names:
            if name and name not in seen:
                seen.append(str(name))
    return seen
