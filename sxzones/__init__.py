"""sxzones: environmental zoning and siting analysis for Shanxi Province.

Library first: everything the ``sxzones`` command does is a function here. The analyses,
the readers and the rules loader are exported from the package itself, imported on first
use (so ``import sxzones`` and the command start fast); ``docs/api.md`` is the guide.

>>> import sxzones
>>> sxzones.crs.parse_crs("gcj02").name
'gcj02'
>>> sxzones.screen_firms.__module__
'sxzones.analyses.firm_zones'
>>> from importlib.metadata import version
>>> sxzones.__version__ == version("sxzones")
True
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sxzones import errors
from sxzones._util import lazy_exports
from sxzones.errors import CRSError, LayerError, RulesError, SxzonesError

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from sxzones import crs
    from sxzones.analyses.firm_zones import screen_firms, summarise
    from sxzones.analyses.phaseout import assess_units, coking_capacity, equipment_rules
    from sxzones.analyses.rasters import RasterCriterion
    from sxzones.analyses.site_check import SiteLayers, check_sites
    from sxzones.analyses.siting import Exclusion, screen_sites
    from sxzones.layers.catalog import Catalog, load_catalog, load_layer
    from sxzones.layers.equipment import read_equipment
    from sxzones.layers.readers import read_file
    from sxzones.layers.validate import LayerReport, validate_layer
    from sxzones.rules import RuleSet, load_rules

#: Exported name -> the module that defines it (imported on first use).
_EXPORTS = {
    "crs": "sxzones.crs",
    "screen_firms": "sxzones.analyses.firm_zones",
    "summarise": "sxzones.analyses.firm_zones",
    "check_sites": "sxzones.analyses.site_check",
    "SiteLayers": "sxzones.analyses.site_check",
    "screen_sites": "sxzones.analyses.siting",
    "Exclusion": "sxzones.analyses.siting",
    "RasterCriterion": "sxzones.analyses.rasters",
    "assess_units": "sxzones.analyses.phaseout",
    "coking_capacity": "sxzones.analyses.phaseout",
    "equipment_rules": "sxzones.analyses.phaseout",
    "read_equipment": "sxzones.layers.equipment",
    "read_file": "sxzones.layers.readers",
    "validate_layer": "sxzones.layers.validate",
    "LayerReport": "sxzones.layers.validate",
    "load_catalog": "sxzones.layers.catalog",
    "load_layer": "sxzones.layers.catalog",
    "Catalog": "sxzones.layers.catalog",
    "load_rules": "sxzones.rules",
    "RuleSet": "sxzones.rules",
}

__all__ = [
    "CRSError",
    "Catalog",
    "Exclusion",
    "LayerError",
    "LayerReport",
    "RasterCriterion",
    "RuleSet",
    "RulesError",
    "SiteLayers",
    "SxzonesError",
    "__version__",
    "assess_units",
    "check_sites",
    "coking_capacity",
    "crs",
    "equipment_rules",
    "errors",
    "load_catalog",
    "load_layer",
    "load_rules",
    "read_equipment",
    "read_file",
    "screen_firms",
    "screen_sites",
    "summarise",
    "validate_layer",
]

_lazy_getattr, __dir__ = lazy_exports(__name__, _EXPORTS)


@functools.cache
def _version() -> str:
    """The installed distribution's version: declared once, in ``pyproject.toml``; read once
    per process (each read parses the distribution's metadata: about 5 ms)."""
    import importlib.metadata  # here, not at the top: it costs 20 ms at every start

    try:
        return importlib.metadata.version("sxzones")
    except importlib.metadata.PackageNotFoundError:  # imported from a source tree, not installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _version()
    return _lazy_getattr(name)
