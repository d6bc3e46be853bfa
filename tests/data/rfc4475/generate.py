"""Expand `source.txt` (RFC 4475 messages in the RFC's notation) into one byte-exact
file per message, `<section>-<name>.sip`, and check each against manifest.yaml.

    .venv/bin/python tests/data/rfc4475/generate.py          # write the .sip files
    .venv/bin/python tests/data/rfc4475/generate.py --check  # verify, write nothing

Notation (RFC 4475 section 2): every line ends in CRLF; <allOneLine>..</allOneLine>
joins the enclosed lines; <hex>..</hex> stands for the bytes of its hex digits.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).parent
_HEX = re.compile(r"<hex>([0-9A-Fa-f]*)</hex>")


def _line_bytes(text: str) -> bytes:
    out, pos = bytearray(), 0
    for m in _HEX.finditer(text):
        out += text[pos:m.start()].encode("ascii")
        out += bytes.fromhex(m.group(1))
        pos = m.end()
    out += text[pos:].encode("ascii")
    return bytes(out)


def expand(lines: list[str]) -> bytes:
    """One message in the RFC's notation -> its bytes on the wire."""
    out, joined, inside = bytearray(), "", False
    for line in lines:
        if line == "<allOneLine>":
            inside, joined = True, ""
        elif line == "</allOneLine>":
            inside = False
            out += _line_bytes(joined) + b"\r\n"
        elif inside:
            joined += line
        else:
            out += _line_bytes(line) + b"\r\n"
    return bytes(out)


def messages(source: Path = HERE / "source.txt") -> dict[str, bytes]:
    """`<section>-<name>` -> bytes, in the RFC's order."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in source.read_text(encoding="ascii").split("\n")[:-1]:
        if line.startswith("=== "):
            section, name = line[4:].split()
            current = found.setdefault(f"{section}-{name}", [])
        elif current is not None:
            current.append(line)
    return {key: expand(lines) for key, lines in found.items()}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    manifest = yaml.safe_load((HERE / "manifest.yaml").read_text(encoding="utf-8"))
    digests = {m["id"]: m["sha256"] for m in manifest["messages"]}
    bad = 0
    for key, data in messages().items():
        digest = hashlib.sha256(data).hexdigest()
        if digests.get(key) != digest:
            print(f"{key}: sha256 {digest} != manifest {digests.get(key)}", file=sys.stderr)
            bad += 1
        if check:
            on_disk = (HERE / f"{key}.sip").read_bytes()
            if on_disk != data:
                print(f"{key}.sip differs from source.txt", file=sys.stderr)
                bad += 1
        else:
            (HERE / f"{key}.sip").write_bytes(data)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
