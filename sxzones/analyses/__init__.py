"""Analyses: pure functions, GeoDataFrame (or table) in, GeoDataFrame out (no files, no drawing):
the firm screen, the site check, the siting screen and the equipment phase-out screen.

Each name is imported from its module on first use, so importing this package is cheap.

>>> from sxzones.analyses import screen_firms, check_sites, screen_sites
>>> screen_sites.__module__
'sxzones.analyses.siting'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sxzones._util import lazy_exports

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from sxzones.analyses.firm_zones import (
        FirmScreenSummary,
        normalise_industry,
        resolve_industries,
        resolve_industries_noted,
        screen_firms,
        summarise,
        summary_by_city,
    )
    from sxzones.analyses.nearest import Nearest, nearest_geodesic
    from sxzones.analyses.phaseout import (
        Condition,
        EquipmentRules,
        assess_units,
        coking_capacity,
        equipment_rules,
        summary_by_city_type,
    )
    from sxzones.analyses.rasters import RasterCriterion
    from sxzones.analyses.site_check import SiteCheckResult, SiteLayers, check_sites
    from sxzones.analyses.siting import Exclusion, SitingResult, screen_sites

#: Exported name -> the module that defines it (imported on first use).
_EXPORTS = {
    "FirmScreenSummary": "sxzones.analyses.firm_zones",
    "normalise_industry": "sxzones.analyses.firm_zones",
    "resolve_industries": "sxzones.analyses.firm_zones",
    "resolve_industries_noted": "sxzones.analyses.firm_zones",
    "screen_firms": "sxzones.analyses.firm_zones",
    "summarise": "sxzones.analyses.firm_zones",
    "summary_by_city": "sxzones.analyses.firm_zones",
    "SiteCheckResult": "sxzones.analyses.site_check",
    "SiteLayers": "sxzones.analyses.site_check",
    "check_sites": "sxzones.analyses.site_check",
    "Exclusion": "sxzones.analyses.siting",
    "SitingResult": "sxzones.analyses.siting",
    "screen_sites": "sxzones.analyses.siting",
    "RasterCriterion": "sxzones.analyses.rasters",
    "Condition": "sxzones.analyses.phaseout",
    "EquipmentRules": "sxzones.analyses.phaseout",
    "assess_units": "sxzones.analyses.phaseout",
    "coking_capacity": "sxzones.analyses.phaseout",
    "equipment_rules": "sxzones.analyses.phaseout",
    "summary_by_city_type": "sxzones.analyses.phaseout",
    "Nearest": "sxzones.analyses.nearest",
    "nearest_geodesic": "sxzones.analyses.nearest",
}

__all__ = [
    "Condition",
    "EquipmentRules",
    "Exclusion",
    "FirmScreenSummary",
    "Nearest",
    "RasterCriterion",
    "SiteCheckResult",
    "SiteLayers",
    "SitingResult",
    "assess_units",
    "check_sites",
    "coking_capacity",
    "equipment_rules",
    "nearest_geodesic",
    "normalise_industry",
    "resolve_industries",
    "resolve_industries_noted",
    "screen_firms",
    "screen_sites",
    "summarise",
    "summary_by_city",
    "summary_by_city_type",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
