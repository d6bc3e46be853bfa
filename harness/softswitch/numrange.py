"""Numeric ranges as regular expressions, for switch configs that route on digits
(10-digit numbers overflow Kamailio's 32-bit integer comparisons)."""

from __future__ import annotations


def range_regex(lo: int, hi: int, width: int) -> str:
    """An anchored regex matching exactly the `width`-digit numbers lo..hi."""
    if lo > hi:
        raise ValueError(f"empty range {lo}..{hi}")
    return "^(" + "|".join(_parts(f"{lo:0{width}d}", f"{hi:0{width}d}")) + ")$"


def _parts(lo: str, hi: str) -> list[str]:
    if lo == hi:
        return [lo]
    if len(lo) == 1:
        return [f"[{lo}-{hi}]"]
    if lo[0] == hi[0]:
        return [lo[0] + p for p in _parts(lo[1:], hi[1:])]
    n = len(lo) - 1
    out: list[str] = []
    first, last = int(lo[0]), int(hi[0])
    if lo[1:] == "0" * n:
        start = first
    else:
        out += [lo[0] + p for p in _parts(lo[1:], "9" * n)]
        start = first + 1
    if hi[1:] == "9" * n:
        end = last
    else:
        end = last - 1
    if start <= end:
        digit = str(start) if start == end else f"[{start}-{end}]"
        out.append(digit + "[0-9]" * n)
    if hi[1:] != "9" * n:
        out += [hi[0] + p for p in _parts("0" * n, hi[1:])]
    return out
