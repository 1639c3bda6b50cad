"""Coordinates written as degrees, minutes and seconds, as Chinese permit tables often hold
them: ``112°33′15.6″``, ``112°33'15.6"``, ``112度33分15.6秒``, ``112:33:15.6``, ``112°33.26′``,
``112.5542°``, with an optional hemisphere (``E112.5``, ``112.5E``, ``东经112°33′``; W and S,
西经 and 南纬 give negative values). Full-width characters are read as their ASCII forms.

Only the cells that are not plain numbers are parsed here; anything else (minutes or seconds
of 60 or more, seconds after fractional minutes, stray text) is NaN, and the row is rejected
with its reason as any other cell that is not a coordinate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np

__all__ = ["parse_dms"]

_HEMI = {
    "E": 1.0,
    "N": 1.0,
    "W": -1.0,
    "S": -1.0,
    "东经": 1.0,
    "北纬": 1.0,
    "西经": -1.0,
    "南纬": -1.0,
}
_NUM = r"\d+(?:\.\d+)?"
_DMS = re.compile(
    rf"(?P<d>{_NUM})\s*(?:°|度|:)\s*"
    rf"(?:(?P<m>{_NUM})\s*(?:'|′|分|:)?\s*)?"
    rf"(?:(?P<s>{_NUM})\s*(?:\"|″|′′|''|秒)?\s*)?"
)
_PLAIN = re.compile(rf"(?P<d>{_NUM})\s*°?")
_PREFIX = re.compile(r"^(东经|北纬|西经|南纬|[NSEW])\s*")
_SUFFIX = re.compile(r"\s*([NSEW])$")


def _one(text: str) -> float:
    """One cell in decimal degrees, or NaN when it is not a coordinate written so."""
    t = unicodedata.normalize("NFKC", text).strip().upper().replace("″", "′′")
    sign = 1.0
    for pattern in (_PREFIX, _SUFFIX):
        if m := pattern.search(t):
            sign *= _HEMI[m.group(1)]
            t = (t[: m.start()] + t[m.end() :]).strip()
    m = _PLAIN.fullmatch(t) or _DMS.fullmatch(t)
    if m is None:
        return float("nan")
    parts = m.groupdict()
    deg = float(parts["d"])
    minutes = float(parts.get("m") or 0.0)
    seconds = float(parts.get("s") or 0.0)
    if minutes >= 60 or seconds >= 60 or (parts.get("s") and not minutes.is_integer()):
        return float("nan")
    return sign * (deg + minutes / 60.0 + seconds / 3600.0)


def parse_dms(values: Iterable[object]) -> np.ndarray:
    """Decimal degrees of each value (NaN where a value is not a coordinate).

    >>> parse_dms(["112°33′18″", "112度33分18秒", "E112:33:18", "37°52.5'N"]).round(6)
    array([112.555, 112.555, 112.555,  37.875])
    >>> parse_dms(["西经1°30′", "112°60′", "abc", ""]).tolist()
    [-1.5, nan, nan, nan]
    """
    return np.array(
        [_one(v) if isinstance(v, str) and v.strip() else float("nan") for v in values],
        dtype=float,
    )


def parse_dms_pair(text: str) -> tuple[float, float] | None:
    """Two values written in degrees, minutes and seconds, in order (``112°30′15″,37°48′``:
    any comma, semicolon or tab between them, or a space after a value's last sign), or
    None when ``text`` is not two such values.

    >>> parse_dms_pair("112°30′,37°48′")
    (112.5, 37.8)
    >>> parse_dms_pair("112°30′ 37°48′")
    (112.5, 37.8)
    >>> parse_dms_pair("112°30′") is None
    True
    """
    parts = [p for p in re.split(r"\s*[,，;；\t]\s*", text.strip()) if p]
    if len(parts) != 2:
        parts = [p for p in re.split(r"(?<=[″\"秒'′分])\s+", text.strip()) if p]
    if len(parts) != 2:
        return None
    x, y = parse_dms(parts)
    return (float(x), float(y)) if x == x and y == y else None
