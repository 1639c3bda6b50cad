"""The layer catalogue (``layers/catalog.toml``) and :func:`load`.

A catalogue names each layer's file, role, source CRS, encoding, field mapping and provenance::

    [catalog]
    working_crs = "cm111"           # optional: else chosen from the study area
    study_area = [109.90, 34.32, 114.92, 41.01]

    [layers.builtup]
    path = "shanxi/derived/builtup_demonstration.gpkg"
    role = "builtup"
    crs = "cgcs2000"                # optional when the file declares its CRS
    encoding = "GB18030"            # optional
    where = "level = 'county'"      # optional attribute filter (OGR SQL)
    fields = { area_id = "BM", name = "MC" }        # canonical = source
    values = { kind = { "城区" = "city" } }          # field = { source value = canonical }
    constants = { kind = "city" }                   # canonical = value for every feature
    provenance = { source = "...", licence = "...", version = "...", status = "official" }

Swapping the bundled demonstration layer for an official one is an edit of that entry's
``path`` (and ``fields``), nothing else.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
from pyproj import CRS

from sxzones._util import bundled_path
from sxzones.crs import SHANXI_BOUNDS, WorkingCRS, choose_working_crs, parse_crs
from sxzones.errors import CatalogError, CRSError
from sxzones.layers.cache import cached_load
from sxzones.layers.readers import RawLayer, read_file
from sxzones.layers.schemas import ROLES, Provenance
from sxzones.layers.validate import LayerReport, validate_layer

__all__ = [
    "Catalog",
    "LayerEntry",
    "default_catalog_path",
    "load",
    "load_catalog",
    "load_layer",
    "read_entry",
    "validation_options",
]

_ENTRY_KEYS = {
    "path",
    "role",
    "crs",
    "encoding",
    "layer",
    "x",
    "y",
    "sheet",
    "where",
    "fields",
    "constants",
    "values",
    "id_field",
    "provenance",
    "description",
}
_PROV_KEYS = {"source", "licence", "version", "status", "attribution", "date", "notes"}
_CATALOG_KEYS = {"working_crs", "study_area", "title"}


@dataclass(frozen=True)
class LayerEntry:
    """One catalogue entry."""

    name: str
    path: Path
    role: str
    provenance: Provenance
    crs: str | None = None
    encoding: str | None = None
    layer: str | None = None
    x: str | None = None
    y: str | None = None
    sheet: str | None = None
    where: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    id_field: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Catalog:
    """A parsed catalogue: entries, the working CRS and the study area."""

    path: Path
    working: WorkingCRS
    study_area: tuple[float, float, float, float]
    entries: dict[str, LayerEntry]
    title: str = ""

    def layer_of_role(self, role: str) -> str | None:
        """The layer of ``role`` the analyses use; None when the catalogue has none.

        A whole layer before a ``where`` selection of one (``admin`` rather than
        ``counties``). Of several whole layers of the role, the one whose provenance is
        ``official`` (an agency adds its own beside the demonstration layer); otherwise the
        choice is ambiguous and refused: the first one silently decided before, and a
        demonstration red line judged projects while the official one sat in the catalogue.
        """
        of_role = [n for n, e in self.entries.items() if e.role == role]
        whole = [n for n in of_role if self.entries[n].where is None]
        if len(whole) <= 1:
            return next(iter(whole or of_role), None)
        official = [n for n in whole if self._status(n) == "official"]
        if len(official) == 1:
            return official[0]
        raise CatalogError(
            f"{self.path}: {len(whole)} layers have role {role!r} ({', '.join(whole)}) and "
            f"{'none' if not official else len(official)} of them is official, so which one "
            "the analyses use would be a guess. Fix: keep one layer of that role in the "
            "catalogue (point the demonstration entry at your file, or remove it), or mark "
            'your layer\'s provenance status = "official"'
        )

    def load_whole(self, name: str) -> tuple[gpd.GeoDataFrame, LayerReport]:
        """:meth:`load`, refusing a layer some of whose rows validation rejected: the
        layers the analyses judge against (control units, red lines, built-up areas, zones,
        administrative areas, exclusions) are used whole or not at all. A row left out is
        land no rule sees: an official unit typed 重点管控单元（工业园区）, left out, made a
        chemical project in it ``clear``."""
        frame, rep = self.load(name)
        if rep.n_rejected:
            rej = rep.rejects
            said = "; ".join(
                f"row {int(r)}: {why}"
                for r, why in zip(rej["source_row"][:3], rej["reason"][:3], strict=True)
            )
            more = f" (and {rep.n_rejected - 3} more)" if rep.n_rejected > 3 else ""
            raise CatalogError(
                f"{self.path}: layer {name!r} ({self.entries[name].role}): {rep.n_rejected} of "
                f"{rep.n_read} rows rejected: {said}{more}. A layer the analyses judge against "
                "is used whole: a row left out is land no rule sees. Fix: map the values in "
                f'[layers.{name}] (values = {{ FIELD = {{ "VALUE" = "..." }} }}) or '
                f"correct the rows; `sxzones layers validate {name}` lists every row and its fix"
            )
        return frame, rep

    def _status(self, name: str) -> str:
        p = self.entries[name].provenance
        return str(p.status) if p is not None else ""

    def entry(self, name: str) -> LayerEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise CatalogError(
                f"{self.path}: no layer named {name!r}. Layers: {', '.join(sorted(self.entries))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def load(self, name: str) -> tuple[gpd.GeoDataFrame, LayerReport]:
        """Read and validate the named layer into this catalogue's working CRS."""
        return load_layer(
            self.entry(name), working_crs=self.working.crs, study_area=self.study_area
        )


def default_catalog_path() -> Path:
    """``$SXZONES_CATALOG``, else ``layers/catalog.toml`` in the current folder, else the
    bundled Shanxi catalogue (package data when installed, ``layers/`` in a checkout)."""
    env = os.environ.get("SXZONES_CATALOG")
    if env:
        return Path(env)
    here = Path.cwd() / "layers" / "catalog.toml"
    if here.exists():
        return here
    return bundled_path("layers", "catalog.toml")


def _unknown(where: str, keys: set[str], allowed: set[str]) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise CatalogError(f"{where}: unknown key(s) {extra}; allowed: {sorted(allowed)}")


def _values(where: str, table: Any, role: str) -> dict[str, dict[str, str]]:
    """An entry's ``values = { field = { source value = canonical value } }``, checked: a
    value mapped to a word that is not one of the field's canonical values is the
    catalogue's mistake (it was blamed on the file, with a fix to map the wrong word)."""
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise CatalogError(
            f"{where}: values must be a table of tables, e.g. values = {{ unit_type = "
            f'{{ "优先保护单元" = "priority_protection" }} }}'
        )
    out = {str(f): {str(k): str(v) for k, v in m.items()} for f, m in table.items()}
    choices = ROLES[role].choices
    for f, m in out.items():
        allowed = choices.get(f)
        if allowed is None:  # a field of free text: any value
            continue
        bad = {k: v for k, v in m.items() if v not in allowed}
        if bad:
            k, v = next(iter(bad.items()))
            raise CatalogError(
                f"{where}: values.{f} maps {k!r} to {v!r}, which is not one of "
                f"{', '.join(allowed)}. Fix: map it to one of these"
            )
    return out


def _entry(p: Path, name: str, raw: dict[str, Any]) -> LayerEntry:
    """One checked catalogue entry (paths relative to the catalogue's folder)."""
    where = f"{p} [layers.{name}]"
    _unknown(where, set(raw), _ENTRY_KEYS)
    for k in ("path", "role", "provenance"):
        if k not in raw:
            raise CatalogError(f"{where}: missing key {k!r}")
    if raw["role"] not in ROLES:
        raise CatalogError(f"{where}: unknown role {raw['role']!r}; roles: {sorted(ROLES)}")
    prov = raw["provenance"]
    _unknown(f"{where} provenance", set(prov), _PROV_KEYS)
    missing = [k for k in ("source", "licence", "version", "status") if k not in prov]
    if missing:
        raise CatalogError(f"{where} provenance: missing {missing}")
    if prov["status"] not in ("official", "public", "demonstration"):
        raise CatalogError(
            f"{where} provenance.status must be official, public or "
            f"demonstration, not {prov['status']!r}"
        )
    if prov["status"] == "demonstration" and "demonstration" not in name:
        raise CatalogError(
            f"{where}: a demonstration layer says so in its name (e.g. {name}_demonstration)"
        )
    if raw.get("crs"):
        parse_crs(raw["crs"])
    fpath = Path(raw["path"])
    return LayerEntry(
        name=name,
        path=fpath if fpath.is_absolute() else (p.parent / fpath),
        role=raw["role"],
        provenance=Provenance(**prov),
        crs=raw.get("crs"),
        encoding=raw.get("encoding"),
        layer=raw.get("layer"),
        x=raw.get("x"),
        y=raw.get("y"),
        sheet=raw.get("sheet"),
        where=raw.get("where"),
        fields=dict(raw.get("fields", {})),
        constants=dict(raw.get("constants", {})),
        values=_values(where, raw.get("values", {}), raw["role"]),
        id_field=raw.get("id_field"),
        description=raw.get("description", ""),
    )


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Parse and check a catalogue file; every problem of an entry is named with the entry.

    Raises
    ------
    CatalogError
    """
    p = Path(path) if path else default_catalog_path()
    if not p.exists():
        raise CatalogError(
            f"{p}: no such catalogue. Fix: give --catalog PATH or run from the "
            "project folder (layers/catalog.toml)"
        )
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))  # a BOM (Notepad) too
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{p}: not valid TOML ({exc})") from exc
    _unknown(str(p), set(data), {"catalog", "layers"})
    head = data.get("catalog", {})
    _unknown(f"{p} [catalog]", set(head), _CATALOG_KEYS)
    area = tuple(float(v) for v in head.get("study_area", SHANXI_BOUNDS))
    if len(area) != 4:
        raise CatalogError(f"{p} [catalog] study_area: give [minlon, minlat, maxlon, maxlat]")
    study_area: tuple[float, float, float, float] = (area[0], area[1], area[2], area[3])
    working = choose_working_crs(study_area)
    if "working_crs" in head:
        try:
            spec = parse_crs(head["working_crs"])
        except CRSError as exc:
            raise CatalogError(f"{p} [catalog] working_crs: {exc}") from exc
        if spec.is_geographic or spec.obfuscation:
            raise CatalogError(
                f"{p} [catalog] working_crs {spec.name} is not metric; "
                "choose a projected CRS such as cm111"
            )
        working = WorkingCRS(
            spec.crs, f"{spec.crs.name} (set in {p.name})", working.max_scale_error
        )
    entries: dict[str, LayerEntry] = {}
    problems: list[str] = []
    for name, raw in data.get("layers", {}).items():
        try:
            entries[name] = _entry(p, name, raw)
        except (CatalogError, CRSError) as exc:
            problems.append(str(exc))
    if problems:
        raise CatalogError("\n".join(problems))
    return Catalog(p, working, study_area, entries, head.get("title", ""))


def load_layer(
    entry: LayerEntry, *, working_crs: CRS, study_area: tuple[float, float, float, float]
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read and validate one catalogue entry; the result is cached on disk, keyed by the
    file's content and the entry (:mod:`sxzones.layers.cache`)."""
    _exists(entry)
    parts = (entry, working_crs.to_wkt(), tuple(study_area))
    return cached_load(
        entry.path, parts, lambda: _read_and_validate(entry, working_crs, study_area)
    )


def _exists(entry: LayerEntry) -> None:
    """Refuse an entry whose file is not there, naming the fix."""
    if not entry.path.exists():
        raise CatalogError(
            f"layer {entry.name!r}: {entry.path} does not exist. Fix: correct its path in the "
            "catalogue; the bundled derived Shanxi layers are built by `make layers`."
        )


def read_entry(entry: LayerEntry) -> RawLayer:
    """One catalogue entry's file as read (its CRS, layer, encoding, columns, filter), not
    validated: :func:`validation_options` gives what validates it as the catalogue says."""
    _exists(entry)
    return read_file(
        entry.path,
        crs=entry.crs,
        layer=entry.layer,
        encoding=entry.encoding,
        x=entry.x,
        y=entry.y,
        sheet=entry.sheet,
        where=entry.where,
    )


def validation_options(entry: LayerEntry) -> dict[str, Any]:
    """The keyword arguments of :func:`sxzones.layers.validate_layer` an entry gives besides
    its fields (``entry.fields``), role, working CRS and study area: its name, constants,
    values, id field and provenance."""
    return {
        "name": entry.name,
        "constants": entry.constants,
        "values": entry.values,
        "id_field": entry.id_field,
        "provenance": entry.provenance,
    }


def _read_and_validate(
    entry: LayerEntry, working_crs: CRS, study_area: tuple[float, float, float, float]
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    return validate_layer(
        read_entry(entry),
        entry.role,
        working_crs=working_crs,
        study_area=study_area,
        fields=entry.fields,
        **validation_options(entry),
    )


def load(
    name: str,
    *,
    catalog: Catalog | str | Path | None = None,
    with_report: bool = False,
) -> Any:
    """Load a catalogue layer as a validated GeoDataFrame in the catalogue's working CRS.

    Parameters
    ----------
    name : str
        The layer's catalogue name.
    catalog : Catalog or path, optional
        Default: :func:`default_catalog_path`.
    with_report : bool
        Also return the :class:`LayerReport` (rejected rows, repairs, notes).

    Returns
    -------
    GeoDataFrame, or (GeoDataFrame, LayerReport) with ``with_report=True``.
    The frame's ``attrs["sxzones"]`` holds the provenance.
    """
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    frame, report = cat.load(name)
    return (frame, report) if with_report else frame
