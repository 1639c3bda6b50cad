"""The compiled (numba) kernels of the nearest-distance engine, in their own module so that
numba is imported only when they are first needed (or by the warm-up thread), not by every
``import sxzones``."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from sxzones.analyses.nearest import BLOCK


@numba.njit(cache=True, nogil=True, inline="always")
def _pt_seg(
    px: float,
    py: float,
    ax: float,
    ay: float,
    bx: float,
    by: float,
) -> tuple[float, float, float]:
    """Squared distance from (px, py) to segment a-b, and the nearest point on it."""
    dx = bx - ax
    dy = by - ay
    ll = dx * dx + dy * dy
    t = 0.0
    if ll > 0.0:
        t = min(max(((px - ax) * dx + (py - ay) * dy) / ll, 0.0), 1.0)
    qx = ax + t * dx
    qy = ay + t * dy
    return (px - qx) * (px - qx) + (py - qy) * (py - qy), qx, qy


@numba.njit(cache=True, nogil=True)
def pairs_kernel(
    fi: npt.NDArray[np.int64],
    aj: npt.NDArray[np.int64],
    fseg: npt.NDArray[np.float64],
    fstart: npt.NDArray[np.int64],
    fcount: npt.NDArray[np.int64],
    fbox: npt.NDArray[np.float64],
    aseg: npt.NDArray[np.float64],
    astart: npt.NDArray[np.int64],
    acount: npt.NDArray[np.int64],
    ablock0: npt.NDArray[np.int64],
    abox: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Compiled loop: for each pair (f, a) of disjoint geometries, the nearest points of
    their boundaries (rows px, py on f, qx, qy on a). The blocks of a's boundary are visited
    from the nearest by bounding box, and skipped once their box is farther than the best."""
    n = len(fi)
    out = np.empty((n, 4))
    # one buffer for the block gaps of every pair (an allocation per pair cost a tenth of it)
    gaps = np.empty((acount.max() + BLOCK - 1) // BLOCK if len(acount) else 0)
    for k in range(n):
        f = fi[k]
        a = aj[k]
        f0 = fstart[f]
        fc = fcount[f]
        a0 = astart[a]
        ac = acount[a]
        nb = (ac + BLOCK - 1) // BLOCK
        b0 = ablock0[a]
        first = 0
        for b in range(nb):
            dx = max(max(abox[b0 + b, 0] - fbox[f, 2], fbox[f, 0] - abox[b0 + b, 2]), 0.0)
            dy = max(max(abox[b0 + b, 1] - fbox[f, 3], fbox[f, 1] - abox[b0 + b, 3]), 0.0)
            gaps[b] = dx * dx + dy * dy
            if gaps[b] < gaps[first]:
                first = b
        best = np.inf
        r0 = r1 = r2 = r3 = 0.0
        fx0, fy0, fx1, fy1 = fbox[f, 0], fbox[f, 1], fbox[f, 2], fbox[f, 3]
        for step in range(nb):
            b = (first + step) % nb
            if gaps[b] >= best:
                continue
            for m in range(a0 + b * BLOCK, min(a0 + (b + 1) * BLOCK, a0 + ac)):
                ax = aseg[m, 0]
                ay = aseg[m, 1]
                bx = aseg[m, 2]
                by = aseg[m, 3]
                # the segment's box is a lower bound too: skip it before 16 point-segment tests
                gx = max(max(min(ax, bx) - fx1, fx0 - max(ax, bx)), 0.0)
                gy = max(max(min(ay, by) - fy1, fy0 - max(ay, by)), 0.0)
                if gx * gx + gy * gy >= best:
                    continue
                for q in range(f0, f0 + fc):
                    cx = fseg[q, 0]
                    cy = fseg[q, 1]
                    ex = fseg[q, 2]
                    ey = fseg[q, 3]
                    d, qx, qy = _pt_seg(cx, cy, ax, ay, bx, by)
                    if d < best:
                        best, r0, r1, r2, r3 = d, cx, cy, qx, qy
                    if cx == ex and cy == ey:
                        continue  # a point: one check is all
                    d, qx, qy = _pt_seg(ex, ey, ax, ay, bx, by)
                    if d < best:
                        best, r0, r1, r2, r3 = d, ex, ey, qx, qy
                    d, qx, qy = _pt_seg(ax, ay, cx, cy, ex, ey)
                    if d < best:
                        best, r0, r1, r2, r3 = d, qx, qy, ax, ay
                    d, qx, qy = _pt_seg(bx, by, cx, cy, ex, ey)
                    if d < best:
                        best, r0, r1, r2, r3 = d, qx, qy, bx, by
        out[k, 0] = r0
        out[k, 1] = r1
        out[k, 2] = r2
        out[k, 3] = r3
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _gap(b: npt.NDArray[np.float64], a: npt.NDArray[np.float64]) -> float:
    """Gap between two boxes (minx, miny, maxx, maxy)."""
    dx = max(max(a[0] - b[2], b[0] - a[2]), 0.0)
    dy = max(max(a[1] - b[3], b[1] - a[3]), 0.0)
    return float(np.sqrt(dx * dx + dy * dy))


@numba.njit(cache=True, nogil=True)
def far_candidates(
    fbox: npt.NDArray[np.float64],
    far: npt.NDArray[np.int64],
    abox: npt.NDArray[np.float64],
    kratio: float,
    known: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """For firms whose search within reach was not conclusive: the pairs (firm, area) whose
    bounding-box gap is at most ``kratio`` x the smallest upper bound of the planar distance
    (``known[t]``, a distance already found, or the largest distance between the two boxes
    over all areas), with their gaps. Every area that can be nearest on the ground is among
    them; usually one or two are."""
    m, n = abox.shape[0], len(far)
    limits = np.empty(n)
    counts = np.zeros(n, dtype=np.int64)
    for t in range(n):  # the bound per firm, and how many areas it keeps
        b = fbox[far[t]]
        ub = known[t]
        for a in range(m):
            fx = max(abox[a, 2] - b[0], b[2] - abox[a, 0])
            fy = max(abox[a, 3] - b[1], b[3] - abox[a, 1])
            ub = min(ub, np.sqrt(fx * fx + fy * fy))
        limits[t] = ub * kratio + 1e-6
        for a in range(m):
            counts[t] += _gap(b, abox[a]) <= limits[t]
    total = counts.sum()
    oi = np.empty(total, dtype=np.int64)
    oj = np.empty(total, dtype=np.int64)
    og = np.empty(total)
    k = 0
    for t in range(n):  # the pairs kept
        b = fbox[far[t]]
        for a in range(m):
            g = _gap(b, abox[a])
            if g <= limits[t]:
                oi[k], oj[k], og[k] = far[t], a, g
                k += 1
    return oi, oj, og


@numba.njit(cache=True, nogil=True, inline="always")
def _max(a: float, b: float) -> float:
    """``np.maximum`` of two doubles: NaN if either is."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


@numba.njit(cache=True, nogil=True)
def near_pairs(
    fbox: npt.NDArray[np.float64],
    abox: npt.NDArray[np.float64],
    fi: npt.NDArray[np.int64],
    aj: npt.NDArray[np.int64],
    limit: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The pairs (firm ``fi``, area ``aj``) whose bounding boxes lie at most ``limit`` apart,
    in order, with their gaps: :func:`sxzones.analyses.nearest._box_gap` and the filter in
    one pass, the same doubles (``np.hypot`` of the same ``np.maximum``\\ s)."""
    n = len(fi)
    oi = np.empty(n, dtype=np.int64)
    oj = np.empty(n, dtype=np.int64)
    og = np.empty(n)
    m = 0
    for k in range(n):
        f = fi[k]
        a = aj[k]
        dx = _max(_max(abox[a, 0] - fbox[f, 2], fbox[f, 0] - abox[a, 2]), 0.0)
        dy = _max(_max(abox[a, 1] - fbox[f, 3], fbox[f, 1] - abox[a, 3]), 0.0)
        # hypot(x, 0) is |x| exactly (IEEE 754): most pairs lie level with their area's box
        g = abs(dx) if dy == 0.0 else (abs(dy) if dx == 0.0 else np.hypot(dx, dy))
        if g <= limit:
            oi[m], oj[m], og[m] = f, a, g
            m += 1
    return oi[:m], oj[:m], og[:m]
