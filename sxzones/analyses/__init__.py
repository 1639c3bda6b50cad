"""Analyses: pure functions, GeoDataFrame in, GeoDataFrame out (no files, no drawing)."""

from __future__ import annotations

from sxzones.analyses.firm_zones import screen_firms

__all__ = ["screen_firms"]
