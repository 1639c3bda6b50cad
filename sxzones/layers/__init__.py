"""Layers: roles and schemas, readers, validation and the catalogue.

>>> from sxzones.layers import ROLES
>>> ROLES["control_units"].required
('unit_code', 'unit_type')
>>> ROLES["builtup"].required  # geometry only: the id is the feature number when absent
()
"""

from __future__ import annotations

from sxzones.layers.catalog import (
    Catalog,
    LayerEntry,
    default_catalog_path,
    load,
    load_catalog,
    load_layer,
)
from sxzones.layers.readers import ROW, RawLayer, read_file
from sxzones.layers.schemas import ROLES, Provenance, Role
from sxzones.layers.validate import Finding, LayerReport, validate_layer

__all__ = [
    "ROLES",
    "ROW",
    "Catalog",
    "Finding",
    "LayerEntry",
    "LayerReport",
    "Provenance",
    "RawLayer",
    "Role",
    "default_catalog_path",
    "load",
    "load_catalog",
    "load_layer",
    "read_file",
    "validate_layer",
]
