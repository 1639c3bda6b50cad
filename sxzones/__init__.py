"""sxzones: environmental zoning and siting analysis for Shanxi Province.

Library first: everything the ``sxzones`` command does is a function here.

>>> import sxzones
>>> sxzones.crs.parse_crs("gcj02").name
'gcj02'
"""

from __future__ import annotations

from sxzones import crs, errors
from sxzones.errors import CRSError, LayerError, SxzonesError

__version__ = "0.1.0"

__all__ = ["CRSError", "LayerError", "SxzonesError", "__version__", "crs", "errors"]
