"""Distances and output formats as users write them, shared by the options, runs and recipes.

>>> parse_distance("20km")
20000.0
>>> parse_distance("250 m")
250.0
>>> parse_formats("csv,xlsx")
('csv', 'xlsx')
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable

from sxzones.errors import SxzonesError

__all__ = ["FORMATS", "UNITS", "as_typed", "parse_degrees", "parse_distance", "parse_formats"]

#: Table outputs of the firm screen, in the order they are written.
FORMATS = ("csv", "xlsx", "gpkg")


#: Units of distances as users write them, in metres (the longest suffix is tried first).
UNITS = {"km": 1000.0, "公里": 1000.0, "千米": 1000.0, "m": 1.0, "米": 1.0}


def as_typed(text: str | float | int) -> str:
    """An option's number as plain text: Unicode NFKC (full-width ``２０ｋｍ``, ``０．５`` and
    the ideographic space, as a Chinese input method types them, become ``20km``, ``0.5``
    and a space), stripped, lower case.

    >>> as_typed("２０ＫＭ"), as_typed(" ０．５ ")
    ('20km', '0.5')
    """
    return unicodedata.normalize("NFKC", str(text)).strip().lower()


def parse_distance(text: str | float | int, *, allow_zero: bool = False) -> float:
    """A distance as users write it, in metres.

    Parameters
    ----------
    text : str
        A number with its unit: ``"20km"``, ``"20 km"``, ``"20000m"``, ``"20公里"``,
        ``"20千米"``, ``"500米"``; full-width forms (``"２０ｋｍ"``) are read as typed. A number without a unit is refused: ``20`` might mean 20 km
        (the policy's distance) or 20 m, and a screen run at the wrong one would be wrong
        without a word.
    allow_zero : bool
        A setback of 0 is fine, a screening distance is not.

    Returns
    -------
    float
        Metres (on the ground; the caller decides how they are measured).

    Raises
    ------
    SxzonesError
        No unit, not a number with a unit of :data:`UNITS`, not finite (``inf``, ``nan``),
        or negative (zero too unless ``allow_zero``).
    """
    s = as_typed(text).replace(" ", "")
    unit = next((u for u in sorted(UNITS, key=len, reverse=True) if s.endswith(u)), None)
    if isinstance(text, bool) or unit is None:
        try:
            bare = float(s)
        except ValueError:
            raise SxzonesError(f"distance {text!r}: write it as 20km or 20000m") from None
        if not math.isfinite(bare):
            raise SxzonesError(
                f"distance {text!r} is not a finite number of metres: write it as 20km or 20000m"
            )
        if not (allow_zero and bare == 0):
            raise SxzonesError(
                f"distance {text!r} has no unit: write it as {s}m or {s}km (e.g. 20km)"
            )
        return 0.0
    try:
        v = float(s[: -len(unit)]) * UNITS[unit]
    except ValueError:
        raise SxzonesError(f"distance {text!r}: write it as 20km or 20000m") from None
    if not math.isfinite(v):
        raise SxzonesError(
            f"distance {text!r} is not a finite number of metres: write it as 20km or 20000m"
        )
    if not (v >= 0 if allow_zero else v > 0):
        raise SxzonesError(f"distance {text!r} must be {'0 or more' if allow_zero else 'positive'}")
    return v


def parse_degrees(text: str | float | int, what: str = "slope limit") -> float:
    """An angle as users write it (``25``, ``25°``, ``25度``, ``25 deg``), in degrees, more
    than 0 and at most 90.

    Examples
    --------
    >>> [parse_degrees(t) for t in ("25", "25°", "12.5 度", 8)]
    [25.0, 25.0, 12.5, 8.0]
    """
    s = as_typed(text).replace(" ", "")
    for unit in ("degrees", "degree", "deg", "°", "度"):
        if s.endswith(unit):
            s = s[: -len(unit)]
            break
    try:
        value = float(s)
    except ValueError:
        raise SxzonesError(f"{what} {text!r}: give degrees, e.g. 20 or 20°") from None
    if isinstance(text, bool) or not (math.isfinite(value) and 0 < value <= 90):
        raise SxzonesError(f"{what} {text!r}: give 0 to 90 degrees (more than 0)")
    return value


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """Output formats from ``"csv,xlsx"`` or ``["csv", "xlsx"]`` (each item may hold commas).

    Raises
    ------
    SxzonesError
        An unknown format, or none at all.
    """
    parts = [text] if isinstance(text, str) else list(text)
    items = [f.strip().lower() for part in parts for f in str(part).split(",")]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise SxzonesError(f"format(s) {bad or items} unknown; choose from {', '.join(FORMATS)}")
    return tuple(items)
