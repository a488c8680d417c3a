"""Sizes in bytes: the one parser (``--max-bytes``, ``--max-shard-size``) and the one
formatter (messages, tables, summaries).

Units are decimal (kB/KB … PB, as Transformers' ``convert_file_size_to_int`` and disk
makers count) or binary (KiB … PiB), and parsing is exact: ``1.1TB`` is
1,100,000,000,000 bytes, not one less.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .errors import UsageError

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "p": 10**15,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
UNIT_WORDS = "bytes or a number with kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB"


def size_bytes(text: str) -> int | None:
    """``"500GB"`` → 500_000_000_000, exactly; None if ``text`` is not a size.

    >>> size_bytes("1.5TB"), size_bytes("2GiB"), size_bytes("1024"), size_bytes("big")
    (1500000000000, 2147483648, 1024, None)
    """
    m = _SIZE.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        return None
    return int(Fraction(m.group(1)) * _UNITS[unit])


def parse_size(text: str, option: str, *, positive: bool = False) -> int:
    """A size given to ``option``; a :class:`UsageError` naming the option if it is not one.

    >>> parse_size("2GB", "--max-shard-size")
    2000000000
    """
    size = size_bytes(text)
    if size is None:
        raise UsageError(f"{option} {text!r}: not a size; use {UNIT_WORDS} (e.g. 2GB)")
    if positive and size <= 0:
        raise UsageError(f"{option} {text!r}: not a positive size")
    return size


def format_bytes(n: float) -> str:
    """Bytes for people, in decimal units to three significant digits.

    >>> format_bytes(1_080_000), format_bytes(999), format_bytes(4 * 10**12), format_bytes(999_900)
    ('1.08 MB', '999 B', '4 TB', '1 MB')
    >>> format_bytes(16 * 10**400)  # a plan's size can pass float's range: as a power of ten
    '1.60e386 PB'
    """
    if isinstance(n, int) and abs(n) >= 10**21:  # a million PB and more
        digits = str(abs(n))
        return f"{'-' if n < 0 else ''}{digits[0]}.{digits[1:3]}e{len(digits) - 16} PB"
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 999.5 or unit == "PB":  # 999.9 KB shows as 1 MB, not 1e+03 KB
            if unit == "B":
                return f"{n:g} B"
            return f"{n:.3g} {unit}" if abs(n) < 1000 else f"{n:,.0f} {unit}"
        n /= 1000
    raise AssertionError


def exact_bytes(n: int) -> str:
    """:func:`format_bytes`, with the exact count when that rounds: '1 MB (999,999 bytes)'."""
    text = format_bytes(n)
    return text if size_bytes(text.replace(" ", "").replace(",", "")) == n else f"{text} ({n:,} bytes)"


def round_size(n: int) -> str:
    """A round size ≥ n that :func:`parse_size` accepts: 4000000004000000000 → '4001PB'."""
    for unit, scale in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if n >= scale:
            return f"{-(-n // scale)}{unit}"
    return str(n)
