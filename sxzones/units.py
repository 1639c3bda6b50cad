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
from collections.abc import Iterable

from sxzones.errors import SxzonesError

__all__ = ["FORMATS", "parse_distance", "parse_formats"]

#: Table outputs of the firm screen, in the order they are written.
FORMATS = ("csv", "xlsx", "gpkg")


def parse_distance(text: str | float | int, *, allow_zero: bool = False) -> float:
    """A distance as users write it, in metres.

    Parameters
    ----------
    text : str or number
        ``"20km"``, ``"20 km"``, ``"20000m"``, ``"20000"`` or a number of metres.
    allow_zero : bool
        A setback of 0 is fine, a screening distance is not.

    Returns
    -------
    float
        Metres (on the ground; the caller decides how they are measured).

    Raises
    ------
    SxzonesError
        Not a number with an optional ``m``/``km`` unit, not finite (``inf``, ``nan``), or
        negative (zero too unless ``allow_zero``).
    """
    if isinstance(text, bool):
        raise SxzonesError(f"distance {text!r}: write it as 20km or 20000m")
    if isinstance(text, int | float):
        v = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        number, scale = (s[:-2], 1000.0) if s.endswith("km") else (s.removesuffix("m"), 1.0)
        try:
            v = float(number) * scale
        except ValueError:
            raise SxzonesError(f"distance {text!r}: write it as 20km or 20000m") from None
    if not math.isfinite(v):
        raise SxzonesError(
            f"distance {text!r} is not a finite number of metres: write it as 20km or 20000m"
        )
    if not (v >= 0 if allow_zero else v > 0):
        raise SxzonesError(f"distance {text!r} must be {'0 or more' if allow_zero else 'positive'}")
    return v


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
