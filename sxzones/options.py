"""Every option of every analysis, declared once.

An analysis's options are one frozen dataclass (:class:`FirmOptions`, :class:`CheckOptions`,
:class:`SiteOptions`, :class:`OverviewOptions`, and :class:`ValidateOptions` for
``sxzones layers validate``). Each field carries an :class:`Opt`: its help text, command-line
flag, kind (which fixes the click type and the TOML type a recipe must give), choices and
recipe key. From that one declaration come

- the click options of the command (:func:`click_options`),
- the object the run function takes (:meth:`Options.from_cli`, or a recipe's values),
- the keys a recipe may give in ``[inputs]`` and ``[options]`` and the type check of their
  values (:meth:`Options.recipe_keys`, :func:`recipe_value`).

This module imports neither :mod:`sxzones.runs` nor :mod:`sxzones.recipes`; both import it.

>>> o = FirmOptions(firms="firms.csv", builtup="builtup", out=Path("out"), distance="5km")
>>> o.distance_m, o.formats
(5000.0, ('csv', 'xlsx', 'gpkg'))
>>> sorted(FirmOptions.recipe_keys("inputs"))
['admin', 'builtup', 'firms']
"""

# ruff: noqa: RUF009  (_f and _need return dataclasses.field(...), which RUF009 cannot see)
from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from sxzones.errors import SxzonesError
from sxzones.rules import TECHS
from sxzones.units import FORMATS, parse_degrees, parse_distance, parse_formats

if TYPE_CHECKING:
    from sxzones.maps.basemaps import Basemap

__all__ = [
    "ANALYSES",
    "CheckOptions",
    "FirmOptions",
    "Opt",
    "Options",
    "OverviewOptions",
    "PhaseoutOptions",
    "ServeOptions",
    "SiteOptions",
    "ValidateOptions",
    "click_option",
    "click_options",
    "parse_field_specs",
    "recipe_value",
]

#: What a value is: fixes the click type and the TOML type a recipe must give.
#: text/choice/layer: a string; path: a file path (recipe: relative to the recipe; "" = none);
#: folder: an output folder; flag: true/false; int: a whole number; texts/layers: a string or
#: a list of strings; fields: ``[ROLE:]CANONICAL=SOURCE`` (recipe: a table); number: text
#: that may also be a number in a recipe (a distance in metres, an EPSG code).
Kind = Literal[
    "text", "choice", "layer", "path", "folder", "flag", "int", "texts", "fields", "number"
]

LANGS = ("en", "zh", "both")
REPORTS = ("all", "flagged", "none")
#: Where an analysis runs (firms, check, sites): this process, or a Dask cluster
#: (sxzones.dask_engine).
ENGINES = ("local", "dask")
#: The basemaps of sxzones.maps.basemaps.BASEMAPS (that module loads folium; a test checks
#: that the two agree).
BASEMAP_KINDS = ("none", "osm", "tianditu", "amap")


@dataclass(frozen=True)
class Opt:
    """One option: how the command line spells it and what a recipe may give for it.

    Attributes
    ----------
    flag : str or None
        The command-line flag (``"--id"``; an on/off pair with a slash, as click writes it); None: the
        option exists in recipes only.
    help : str
        Help text of the flag.
    kind : Kind
        What a value is (see :data:`Kind`).
    section : {"inputs", "options"} or None
        The recipe table that holds the key; None: not a recipe key (``out``, ``rules`` and
        ``overwrite`` come from the recipe's top level or from ``sxzones run``).
    key : str or None
        The recipe key (default: the field name).
    choices : tuple of str
        Allowed values (kind ``choice``).
    cli_required, recipe_required : bool
        The flag, or the recipe key, must be given.
    flag_value : str or None
        Value of the flag given without one (``--map`` alone).
    show_default : str or None
        Default shown in ``--help`` (the flag's default as typed; the same as the field's).
    role : str or None
        For inputs (kind ``layer``): the layer role, for ``--field ROLE:...``.
    maps_to : str or None
        A field-name option (``--id``, ``--industry-field``): the canonical field of the
        primary input it names.
    repeat : bool
        The flag may be given several times (kinds ``texts`` and ``fields``).
    """

    flag: str | None
    help: str
    kind: Kind = "text"
    section: Literal["inputs", "options"] | None = "options"
    key: str | None = None
    choices: tuple[str, ...] = ()
    cli_required: bool = False
    recipe_required: bool = False
    flag_value: str | None = None
    show_default: str | None = None
    role: str | None = None
    maps_to: str | None = None
    repeat: bool = False


def _f(default: Any, opt: Opt) -> Any:
    """A dataclass field with its :class:`Opt` (tuples are immutable defaults)."""
    return field(default=default, metadata={"opt": opt})


def _engine() -> Any:
    """``--engine local|dask`` (recipe key ``engine``)."""
    return _f(
        "local",
        Opt(
            "--engine",
            "Where the analysis runs: local (this process) or dask (a local Dask cluster, or "
            "the scheduler of --scheduler; needs the extra sxzones[dask]).",
            "choice",
            choices=ENGINES,
            show_default="local",
        ),
    )


def _scheduler() -> Any:
    """``--scheduler ADDRESS`` (recipe key ``scheduler``)."""
    return _f(
        None,
        Opt(
            "--scheduler",
            "Address of a running Dask scheduler for --engine dask (tcp://host:8786); "
            "default: a local cluster.",
        ),
    )


def _check_engine(opts: Any) -> None:
    if opts.scheduler and opts.engine != "dask":
        raise SxzonesError("--scheduler is for --engine dask. Fix: add --engine dask")


def _need(opt: Opt) -> Any:
    """A dataclass field without default (required when the object is built)."""
    return field(metadata={"opt": opt})


def _layer(role: str, help: str, *, required: bool = False) -> Any:
    """An input layer (a catalogue name or a file) of ``role``: flag ``--ROLE``, recipe
    ``[inputs] ROLE``; ``required`` in both."""
    opt = Opt(
        f"--{role}",
        help,
        "layer",
        "inputs",
        cli_required=required,
        recipe_required=required,
        role=role,
    )
    return _need(opt) if required else _f(None, opt)


def _crs(help: str) -> Any:
    """``--crs`` (a recipe may give an EPSG code as a number)."""
    return _f(None, Opt("--crs", help, "number"))


def _field_name(flag: str, help: str, canonical: str) -> Any:
    """An option naming the field of the primary input that holds ``canonical``."""
    return _f(None, Opt(flag, help, maps_to=canonical))


def _check_suffix(path: Path | str | None, flag: str, suffixes: tuple[str, ...]) -> None:
    """Refuse an output path of the wrong kind: ``--map none`` wrote a map to a file called
    ``none`` (an option left out writes nothing)."""
    if path is not None and Path(path).suffix.lower() not in suffixes:
        raise SxzonesError(
            f"{flag} {str(path)!r}: give a file name ending in {' or '.join(suffixes)} "
            f"(e.g. {flag} out/map{suffixes[0]}); to write none, leave {flag} out"
        )


def _map(help: str, default_path: str | None = None) -> Any:
    """``--map [PATH]`` (recipe key ``map``); given alone, it writes to ``default_path``."""
    return _f(None, Opt("--map", help, "path", key="map", flag_value=default_path))


def _formats(help: str) -> Any:
    """``--format csv,xlsx,gpkg`` (recipe key ``formats``)."""
    return _f(
        FORMATS,
        Opt("--format", help, "texts", key="formats", show_default="csv,xlsx,gpkg"),
    )


# Options that several analyses share: declared once here, used by each.
OUT = Opt("--out", "Output folder.", "folder", None, cli_required=True)
RULES = Opt("--rules", "Rules file (default analyses/rules/shanxi-2023.toml).", "path", None)
OVERWRITE = Opt("--overwrite", "Replace outputs that exist.", "flag", None)
FIGURE = Opt(
    "--figure",
    "Write a static figure for reports here (PNG, and a PDF beside it).",
    "path",
    key="figure",
)
BASEMAP = Opt(
    "--basemap",
    "Basemap of the map: none (offline), osm, tianditu (天地图, needs a key), "
    "amap (高德; overlays shifted to GCJ-02).",
    "choice",
    choices=BASEMAP_KINDS,
    show_default="none",
)
EMBED_KEY = Opt(
    "--embed-tianditu-key",
    "Write the Tianditu key from $SXZONES_TIANDITU_KEY into the map file "
    "(otherwise the page asks for it: open it with #tk=KEY).",
    "flag",
)
LANG = Opt(
    "--lang",
    "Language of table headers and values, map legends and reports: en, zh or both.",
    "choice",
    choices=LANGS,
    show_default="en",
)
FIELD = Opt(
    "--field",
    "Map a field: [ROLE:]CANONICAL=SOURCE, e.g. industry=行业 for the primary input, or "
    "builtup:area_id=BH for the input of that role. Repeatable.",
    "fields",
    key="fields",
    repeat=True,
)
ADMIN = Opt(
    "--admin",
    "Admin layer for city and county ('' for none); a file that declares no CRS as "
    "PATH@CRS (e.g. counties.shp@gk38).",
    "layer",
    "inputs",
    show_default="admin",
    role="admin",
)
CATALOG = Opt(
    "--catalog",
    "Layer catalogue (default: layers/catalog.toml, or $SXZONES_CATALOG).",
    "path",
    None,
)


#: Canonical names of a table's coordinate columns in ``--field``: ``x=经度 y=纬度``, or, for a
#: surveying table whose X is the northing, ``x=Y坐标 y=X坐标``.
COORDINATE_FIELDS = ("x", "y")


def parse_field_specs(
    specs: Iterable[str], roles: tuple[str, ...], where: str = "--field"
) -> dict[str, dict[str, str]]:
    """``[ROLE:]CANONICAL=SOURCE`` items -> {role: {canonical: source}}.

    Parameters
    ----------
    specs : iterable of str
        The items; without ROLE an item maps a field of ``roles[0]`` (the primary input).
    roles : tuple of str
        The roles of the inputs this command reads, the primary one first.
    where : str
        How the items were given, for messages.

    Raises
    ------
    SxzonesError
        Malformed item, a role this command does not read, a canonical field the role does
        not have, or one field mapped twice.
    """
    from sxzones.layers.schemas import ROLES

    out: dict[str, dict[str, str]] = {}
    for spec in specs:
        left, eq, source = str(spec).partition("=")
        given, colon, canon = left.strip().rpartition(":")
        role, canon, source = (given.strip() or roles[0]), canon.strip(), source.strip()
        if not (eq and canon and source) or (colon and not given.strip()):
            raise SxzonesError(
                f"{where} {spec!r}: write [ROLE:]CANONICAL=SOURCE, e.g. industry=行业 or "
                "builtup:area_id=BH"
            )
        if role not in roles:
            raise SxzonesError(
                f"{where} {spec!r}: this command reads no {role!r} input; roles: {', '.join(roles)}"
            )
        r = ROLES[role]
        known = dict.fromkeys([*r.required, *r.optional, *([r.id_field] if r.id_field else [])])
        if known and role != "equipment":  # a table's coordinate columns (equipment: none)
            known.update(dict.fromkeys(COORDINATE_FIELDS))
        if known and canon not in known:
            close = difflib.get_close_matches(canon, list(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise SxzonesError(
                f"{where} {spec!r}: {canon!r} is not a field of role {role!r}{hint}; "
                f"fields: {', '.join(known)}"
            )
        if canon in out.setdefault(role, {}) and out[role][canon] != source:
            raise SxzonesError(
                f"{where}: {role}:{canon} mapped twice ({out[role][canon]!r} and {source!r})"
            )
        out[role][canon] = source
    return out


class Options:
    """Base of the options objects: derivations from the fields' :class:`Opt`."""

    analysis: ClassVar[str] = ""

    @classmethod
    def opts(cls) -> list[tuple[str, Opt]]:
        """(field name, Opt) of every declared option: the class's own in declaration order,
        then those it inherits (so ``--help`` lists an analysis's own options first)."""
        names = [n for c in cls.__mro__ for n in vars(c).get("__annotations__", {})]
        rank = {n: names.index(n) for n in names}
        fields = [f for f in dataclasses.fields(cls) if "opt" in f.metadata]  # type: ignore[arg-type]
        return [(f.name, f.metadata["opt"]) for f in sorted(fields, key=lambda f: rank[f.name])]

    @classmethod
    def recipe_keys(cls, section: str) -> dict[str, tuple[str, Opt]]:
        """Recipe key -> (field name, Opt) of one recipe table (``inputs``/``options``)."""
        return {o.key or n: (n, o) for n, o in cls.opts() if o.section == section}

    @classmethod
    def from_cli(cls, params: Mapping[str, Any], **extra: Any) -> Any:
        """The options object from click's parameters (unset ones take the defaults) and
        ``extra`` fields that are not options (a command's arguments)."""
        kw: dict[str, Any] = dict(extra)
        for name, o in cls.opts():
            value = params.get(name)
            if o.flag is None or value is None or (o.repeat and not value):
                continue
            kw[name] = tuple(value) if isinstance(value, list | tuple) else value
        return cls(**kw)

    def field_roles(self) -> tuple[str, ...]:
        """The roles of the inputs read from files, the primary input's first."""
        return tuple(o.role for _, o in self.opts() if o.kind == "layer" and o.role)

    def fields_for(self, role: str) -> dict[str, str]:
        """The field mapping (canonical -> source) of the input of ``role``: ``--field``
        items and, for the primary input, the field-name options (``--id`` ...)."""
        roles = self.field_roles()
        mapping = parse_field_specs(getattr(self, "fields", ()), roles).get(role, {})
        if role != roles[0]:
            return mapping
        for name, o in self.opts():
            value = getattr(self, name)
            if o.maps_to is None or not value:
                continue
            if o.maps_to in mapping and mapping[o.maps_to] != value:
                raise SxzonesError(
                    f"{o.flag} {value!r} and --field {o.maps_to}={mapping[o.maps_to]} name "
                    f"two fields for {o.maps_to!r}: give one"
                )
            mapping[o.maps_to] = value
        return mapping

    def check(self) -> None:
        """Check the values (choices, field mappings); analyses add their own checks."""
        for name, o in self.opts():
            value = getattr(self, name)
            if o.choices and value is not None and value not in o.choices:
                raise SxzonesError(
                    f"{o.flag or o.key or name} {value!r}: choose from {', '.join(o.choices)}"
                )
        if hasattr(self, "fields"):
            parse_field_specs(self.fields, self.field_roles())
        if hasattr(self, "basemap"):
            self.map_basemap()  # refuses e.g. --embed-tianditu-key without --basemap tianditu
        _check_suffix(getattr(self, "map_path", None), "--map", (".html", ".htm"))
        _check_suffix(getattr(self, "figure_path", None), "--figure", (".png", ".pdf"))

    def __post_init__(self) -> None:
        self.check()

    def map_basemap(self) -> Basemap:
        """The :class:`~sxzones.maps.basemaps.Basemap` of ``basemap`` and the key flag."""
        from sxzones.maps.basemaps import Basemap

        return Basemap(getattr(self, "basemap", "none"), getattr(self, "embed_tianditu_key", False))


@dataclass(frozen=True, kw_only=True)
class _MapOutputs(Options):
    """Output folder, overwrite, and the basemap of a map: every analysis has them."""

    out: Path = _need(OUT)
    overwrite: bool = _f(False, OVERWRITE)
    basemap: str = _f("none", BASEMAP)
    embed_tianditu_key: bool = _f(False, EMBED_KEY)
    base: Path | None = None  # a recipe's folder: relative inputs are looked up there first


@dataclass(frozen=True, kw_only=True)
class _Analysis(_MapOutputs):
    """Rules, a static figure, field mappings and the output language: the firm screen,
    site check and siting screen have them."""

    rules: Path | None = _f(None, RULES)
    figure_path: Path | None = _f(None, FIGURE)
    fields: tuple[str, ...] = _f((), FIELD)
    lang: str = _f("en", LANG)


@dataclass(frozen=True, kw_only=True)
class FirmOptions(_Analysis):
    """Options of the firm screen (``sxzones firms``, recipe ``analysis = "firms"``)."""

    analysis: ClassVar[str] = "firms"

    firms: str = _layer(
        "firms", "Firms: a catalogue layer name or a file (points or site polygons).", required=True
    )
    builtup: str = _layer(
        "builtup",
        "Built-up areas: a catalogue layer or a file; a file that declares no CRS (a "
        "shapefile without .prj) as PATH@CRS, e.g. 建成区.shp@gk38 (--crs is the firms').",
        required=True,
    )
    crs: str | None = _crs(
        "CRS of the firms file when it declares none (e.g. wgs84, gcj02, gk38).",
    )
    id_field: str | None = _field_name("--id", "Firm id field (default firm_id).", "firm_id")
    industry_field: str | None = _field_name(
        "--industry-field",
        "Industry field (default industry); values like steel or 钢铁.",
        "industry",
    )
    name_field: str | None = _field_name("--name-field", "Firm name field (default name).", "name")
    encoding: str | None = _f(None, Opt("--encoding", "Text encoding of the firms file."))
    layer: str | None = _f(
        None,
        Opt(
            "--layer",
            "The layer of a GeoPackage, or the sheet of a workbook, to read the firms "
            "from (needed when it has several).",
        ),
    )
    distance: str | None = _f(
        None,
        Opt(
            "--distance",
            "Distance of the 'within' zone drawn for the report, with its unit: 20km, 20公里 "
            "or 20000m (default: the rules file's). The plan's rules keep their own "
            "distances: clause 十三's 20 km rule names the firms within 20 km whatever the "
            "ring (change a rule's distance in the rules file, --rules).",
            "number",
        ),
    )
    admin: str | None = _f("admin", ADMIN)
    formats: tuple[str, ...] = _formats("Comma-separated outputs: csv, xlsx, gpkg.")
    map_path: Path | None = _map(
        "Write an interactive map (default path maps/firm-zones.html).",
        "maps/firm-zones.html",
    )

    engine: str = _engine()
    scheduler: str | None = _scheduler()

    def check(self) -> None:
        super().check()
        _check_engine(self)
        object.__setattr__(self, "formats", parse_formats(self.formats))
        object.__setattr__(self, "admin", self.admin or None)
        if self.distance is not None:
            parse_distance(self.distance)

    @property
    def distance_m(self) -> float | None:
        """The ``within`` distance in metres, or None for the rules file's."""
        return None if self.distance is None else parse_distance(self.distance)


@dataclass(frozen=True, kw_only=True)
class CheckOptions(_Analysis):
    """Options of the site check (``sxzones check``, recipe ``analysis = "check"``)."""

    analysis: ClassVar[str] = "check"

    project: str | None = _f(
        None,
        Opt(
            "--project",
            'One project: a file (parcel, 界址点 file, ...), WKT, or "lon,lat".',
            section=None,
        ),
    )
    projects: str | None = _f(
        None,
        Opt(
            "--projects",
            "Many projects: a file with one feature per project.",
            "layer",
            "inputs",
            recipe_required=True,
            role="projects",
        ),
    )
    crs: str | None = _crs(
        "CRS of the project (needed for WKT and lon,lat): wgs84, gcj02, bd09, cgcs2000, gk38, ...",
    )
    industry: str | None = _f(
        None,
        Opt(
            "--industry",
            "steel, coking, cement, chemical, coal_power, pv, wind, ... (or the projects' "
            "industry field)",
        ),
    )
    encoding: str | None = _f(None, Opt("--encoding", "Text encoding of a projects file."))
    layer: str | None = _f(
        None,
        Opt(
            "--layer",
            "The layer of a GeoPackage, or the sheet of a workbook, to read the projects "
            "from (needed when it has several).",
        ),
    )
    corners: bool = _f(
        False,
        Opt(
            "--corners",
            "The table's rows are parcel corners (界址点成果表: 点号, X/Y or 经度/纬度, often "
            "地块编号): joined in boundary order (the rows', checked against the point "
            "numbers) into one parcel per 地块编号 (--id names another column), or one parcel "
            "without one; X is the northing.",
            "flag",
        ),
    )
    kind: str | None = _f(
        None,
        Opt(
            "--kind",
            "Project kind, e.g. new, expansion (default new, or the projects' kind field; "
            "refused over a file whose own kind column says otherwise).",
        ),
    )
    id_field: str | None = _field_name("--id", "Project id field of a projects file.", "project_id")
    industry_field: str | None = _field_name(
        "--industry-field", "Industry field of a projects file (instead of --industry).", "industry"
    )
    kind_field: str | None = _field_name(
        "--kind-field", "Project kind field of a projects file (instead of --kind).", "kind"
    )
    name_field: str | None = _field_name(
        "--name-field", "Project name field of a projects file.", "name"
    )
    map_path: Path | None = _map(
        "Write an interactive map (default path maps/site-check.html).",
        "maps/site-check.html",
    )
    reports: str = _f(
        "all",
        Opt(
            "--reports",
            "Printable report-<id>.html for every project (all), for every project that is "
            "not clear (flagged: conflict, conditional or unassessed, each needs a reviewer's "
            "look), or none (large batches).",
            "choice",
            choices=REPORTS,
            show_default="all",
        ),
    )
    engine: str = _engine()
    scheduler: str | None = _scheduler()

    def check(self) -> None:
        super().check()
        _check_engine(self)
        if (self.project is None) == (self.projects is None):
            raise SxzonesError("give exactly one of --project or --projects")
        for value, name in ((self.industry, "industry"), (self.kind, "kind")):
            if value is not None and getattr(self, f"{name}_field"):
                raise SxzonesError(
                    f"--{name} {value!r} and --{name}-field both give the {name}: give one"
                )

    @property
    def spec(self) -> str:
        """The project(s): a file, WKT or ``"lon,lat"``."""
        return str(self.project if self.project is not None else self.projects)


@dataclass(frozen=True, kw_only=True)
class SiteOptions(_Analysis):
    """Options of the siting screen (``sxzones sites``, recipe ``analysis = "sites"``)."""

    analysis: ClassVar[str] = "sites"

    candidates: str = _layer(
        "candidates",
        "Candidate lands (role candidates): a catalogue layer or a file.",
        required=True,
    )
    crs: str | None = _crs(
        "CRS of a candidates file that does not declare one (gcj02 for Amap, wgs84, gk38 ...).",
    )
    id_field: str | None = _field_name("--id", "Candidate id field (default site_id).", "site_id")
    kind_field: str | None = _field_name(
        "--kind-field",
        "Candidate kind field (default kind): abandoned mine, subsidence land ...",
        "kind",
    )
    encoding: str | None = _f(None, Opt("--encoding", "Text encoding of the candidates file."))
    layer: str | None = _f(
        None,
        Opt(
            "--layer",
            "The layer of a GeoPackage, or the sheet of a workbook, to read the candidates "
            "from (needed when it has several).",
        ),
    )
    tech: str = _f(
        "pv",
        Opt("--tech", "Technology to site.", "choice", choices=TECHS, cli_required=True),
    )
    exclude: tuple[str, ...] = _f(
        (),
        Opt(
            "--exclude",
            "Extra exclusion NAME_OR_PATH[@CRS][:SETBACK] (e.g. villages.gpkg:300m; "
            "villages.csv@wgs84:300m for a file that declares no CRS); a rule's reason with a "
            "setback (water:200m) changes that rule's setback. Repeatable.",
            "texts",
            repeat=True,
        ),
    )
    rule_exclusions: bool = _f(
        True,
        Opt(
            "--rule-exclusions/--no-rule-exclusions",
            "Apply the rules file's exclusions (--no-rule-exclusions: only the --exclude layers).",
            "flag",
        ),
    )
    dem: str | None = _f(None, Opt("--dem", "DEM raster (any CRS) for the slope criterion."))
    max_slope: float | str | None = _f(
        None,
        Opt(
            "--max-slope",
            "Slope limit in degrees for --tech (default: the rules' limit, PV 20°, wind 25°); "
            "land steeper is removed, with --dem.",
            "number",
        ),
    )
    resources: tuple[str, ...] = _f(
        (),
        Opt(
            "--resource",
            "Resource raster PATH:MIN (irradiance, wind speed); cells below MIN fail. Repeatable.",
            "texts",
            key="resource",
            repeat=True,
        ),
    )
    grid: str | None = _layer(
        "grid",
        "Grid layer (substations or lines) for the score; PATH@CRS (e.g. substations.csv@wgs84) "
        "for a file that declares no CRS.",
    )
    admin: str | None = _f("admin", ADMIN)
    as_of_year: int | None = _f(
        None, Opt(None, "Year the candidates' status is assessed at (default: the rules').", "int")
    )
    map_path: Path | None = _map(
        "Write the interactive siting map here (e.g. maps/siting-pv.html).",
    )
    engine: str = _engine()
    scheduler: str | None = _scheduler()

    def check(self) -> None:
        super().check()
        _check_engine(self)
        object.__setattr__(self, "admin", self.admin or None)
        if self.max_slope is not None:
            object.__setattr__(self, "max_slope", parse_degrees(self.max_slope, "--max-slope"))


@dataclass(frozen=True, kw_only=True)
class PhaseoutOptions(_Analysis):
    """Options of the equipment screen (``sxzones phaseout``, recipe ``analysis = "phaseout"``)."""

    analysis: ClassVar[str] = "phaseout"

    equipment: str = _layer(
        "equipment",
        "Equipment table (CSV/XLSX, one row per unit; Chinese headers such as 设备编号, "
        "企业代码, 设备类型, 炭化室高度 are recognised).",
        required=True,
    )
    firms: str | None = _layer(
        "firms", "Firms (catalogue layer or file): locations, and the firm screen with --builtup."
    )
    builtup: str | None = _layer(
        "builtup",
        "Built-up areas: with --firms, joins the firm screen (四, 十三); a file that declares "
        "no CRS as PATH@CRS, e.g. 建成区.shp@gk38.",
    )
    crs: str | None = _crs("CRS of the firms file when it declares none (e.g. wgs84, gcj02).")
    id_field: str | None = _field_name(
        "--id", "Unit id field (default unit_id, 设备编号).", "unit_id"
    )
    firm_field: str | None = _field_name(
        "--firm-field",
        "Firm id field of the equipment table (default firm_id, 企业代码).",
        "firm_id",
    )
    encoding: str | None = _f(None, Opt("--encoding", "Text encoding of the equipment CSV."))
    layer: str | None = _f(
        None,
        Opt(
            "--layer",
            "The sheet of a workbook to read the equipment from (needed when several sheets "
            "hold equipment tables).",
        ),
    )
    admin: str | None = _f("admin", ADMIN)
    formats: tuple[str, ...] = _formats(
        "Comma-separated outputs: csv, xlsx, gpkg (gpkg when firms have locations)."
    )
    map_path: Path | None = _map(
        "Write an interactive map of the firms (default path maps/phaseout.html).",
        "maps/phaseout.html",
    )

    def check(self) -> None:
        super().check()
        object.__setattr__(self, "formats", parse_formats(self.formats))
        object.__setattr__(self, "admin", self.admin or None)
        if self.builtup and not self.firms:
            raise SxzonesError("--builtup joins the firm screen and needs --firms")
        if (self.map_path is not None or self.figure_path is not None) and not self.firms:
            raise SxzonesError("--map and --figure draw the firms: give --firms")


@dataclass(frozen=True, kw_only=True)
class OverviewOptions(_MapOutputs):
    """Options of the overview of layers (recipe ``analysis = "overview"``)."""

    analysis: ClassVar[str] = "overview"

    layers: tuple[str, ...] = _f(
        (), Opt(None, "Catalogue names or paths (default: every layer).", "texts", "inputs")
    )
    title: str = _f("", Opt(None, "Title of the map (default: the recipe's title)."))
    map_path: Path | None = _f(None, Opt(None, "Write the overview map here.", "path", key="map"))
    lang: str = _f("en", LANG)


@dataclass(frozen=True, kw_only=True)
class ValidateOptions(Options):
    """Options of ``sxzones layers validate``."""

    analysis: ClassVar[str] = "validate"

    names: tuple[str, ...] = ()
    role: str | None = _f(
        None, Opt("--role", "Role for files given by path (default: context).", section=None)
    )
    crs: str | None = _f(
        None, Opt("--crs", "CRS of files given by path (e.g. gcj02, gk38).", section=None)
    )
    encoding: str | None = _f(
        None, Opt("--encoding", "Attribute encoding of files given by path.", section=None)
    )
    layer: str | None = _f(
        None, Opt("--layer", "GeoPackage layer of files given by path.", section=None)
    )
    rejects: Path | None = _f(
        None,
        Opt(
            "--rejects",
            "Write every rejected row (layer, row, id, reason) to this CSV.",
            "path",
            section=None,
        ),
    )
    overwrite: bool = _f(
        False, Opt("--overwrite", "Replace the --rejects file if it exists.", "flag", None)
    )
    fields: tuple[str, ...] = _f((), dataclasses.replace(FIELD, section=None))
    lang: str = _f(
        "en",
        dataclasses.replace(
            LANG,
            help="Language of the --rejects table's headers and values: en, zh or both.",
            section=None,
        ),
    )

    def field_roles(self) -> tuple[str, ...]:
        return (self.role or "context",)

    def check(self) -> None:
        from sxzones.layers.schemas import ROLES

        if self.role is not None and self.role not in ROLES:
            raise SxzonesError(f"invalid --role {self.role!r}; roles: {', '.join(sorted(ROLES))}")
        super().check()


@dataclass(frozen=True, kw_only=True)
class ServeOptions(Options):
    """Options of ``sxzones serve`` (the web pages; not a recipe analysis).

    The limits are per upload: bytes of the file (unpacked, for a zip), features, and
    vertices of all geometries together.
    """

    analysis: ClassVar[str] = "serve"

    host: str = _f(
        "127.0.0.1",
        Opt(
            "--host",
            "Address to listen on (127.0.0.1: this machine only; 0.0.0.0 for an intranet, "
            "with --token).",
            section=None,
            show_default="127.0.0.1",
        ),
    )
    port: int = _f(8765, Opt("--port", "Port to listen on.", "int", None, show_default="8765"))
    rules: Path | None = _f(None, dataclasses.replace(RULES, section=None))
    token: str | None = _f(
        None,
        Opt(
            "--token",
            "Access token for intranet use (default: $SXZONES_SERVE_TOKEN; none: no token). "
            "Open the page once with ?token=TOKEN.",
            section=None,
        ),
    )
    max_upload_mb: int = _f(
        50, Opt("--max-upload-mb", "Largest upload in MB.", "int", None, show_default="50")
    )
    max_features: int = _f(
        200_000,
        Opt("--max-features", "Most features of one upload.", "int", None, show_default="200000"),
    )
    max_vertices: int = _f(
        2_000_000,
        Opt(
            "--max-vertices",
            "Most vertices of one upload.",
            "int",
            None,
            show_default="2000000",
        ),
    )

    workers: int | None = _f(
        None,
        Opt(
            "--workers",
            "Processes that run the analyses (default: one per core, at most 8; 0: the "
            "server's own process).",
            "int",
            None,
        ),
    )

    def check(self) -> None:
        super().check()
        if not 0 < self.port < 65536:
            raise SxzonesError(f"--port {self.port}: choose a port from 1 to 65535")
        for name in ("max_upload_mb", "max_features", "max_vertices"):
            if getattr(self, name) <= 0:
                flag = "--" + name.replace("_", "-")
                raise SxzonesError(f"{flag} {getattr(self, name)}: give a positive number")
        if self.token is not None and len(self.token) < 8:
            raise SxzonesError("--token: use at least 8 characters")
        if self.workers is not None and self.workers < 0:
            raise SxzonesError(f"--workers {self.workers}: give 0 or more processes")


#: Recipe analysis name -> its options class.
ANALYSES: dict[str, type[Options]] = {
    c.analysis: c
    for c in (OverviewOptions, FirmOptions, CheckOptions, SiteOptions, PhaseoutOptions)
}


# ---- a layer file's CRS after its path -----------------------------------------------


def is_crs(text: str) -> bool:
    """Whether ``text`` is a CRS as ``--crs`` takes it (wgs84, gcj02, gk38, EPSG:4549 ...)."""
    from sxzones.crs import parse_crs

    try:
        parse_crs(text)
    except SxzonesError:
        return False
    return True


def split_crs(name: str, flag: str, exists: Callable[[str], bool]) -> tuple[str, str | None]:
    """``PATH@CRS`` -> (path, CRS as written), or (name, None) without ``@CRS``: the CRS of
    a layer file that declares none (a table of 经度/纬度, a shapefile without .prj), given
    after its path because ``--crs`` is the main input's (the firms', candidates').
    ``exists(name)``: a layer or file of that very name (an ``@`` in it is then part of it).
    ``flag``: for messages.

    Raises
    ------
    SxzonesError
        The text after ``@`` is not a CRS.
    """
    path, at, crs = name.rpartition("@")
    if not at or not path or exists(name) or re.search(r"[/\\]", crs):
        return name, None
    if not is_crs(crs):
        raise SxzonesError(
            f"{flag} {name!r}: {crs!r} after @ is not a CRS. Write PATH@CRS, e.g. "
            f"{'villages.csv@wgs84:300m' if flag == '--exclude' else 'builtup.shp@gk38'} "
            "(wgs84, cgcs2000, gcj02 for web maps, gk38 for zone-prefixed eastings, "
            "EPSG:4549 ...)"
        )
    return path, crs


# ---- command line ----------------------------------------------------------------------


def click_option(name: str, o: Opt, default: Any = None) -> Callable[[Any], Any]:
    """The click option of one :class:`Opt` (field ``name``)."""
    import click

    assert o.flag is not None  # noqa: S101 (recipe-only options have no flag)
    kw: dict[str, Any] = {"help": o.help, "required": o.cli_required}
    if o.kind == "flag":
        kw.update(is_flag=True, default=bool(default))
    elif o.kind in ("path", "folder"):
        kw["type"] = click.Path(
            dir_okay=o.kind == "folder", file_okay=o.kind != "folder", path_type=Path
        )
    elif o.kind == "choice":
        kw["type"] = click.Choice(list(o.choices))
    elif o.kind == "int":
        kw["type"] = int
    if o.repeat:
        kw["multiple"] = True
    if o.flag_value is not None:
        kw.update(is_flag=False, flag_value=o.flag_value)
    if o.show_default is not None:
        kw.update(default=o.show_default, show_default=True)
    return click.option(o.flag, name, **kw)


def click_options(cls: type[Options]) -> Callable[[Any], Any]:
    """A decorator adding the click options of every field of ``cls`` that has a flag."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    def decorate(f: Any) -> Any:
        for name, o in reversed(cls.opts()):
            if o.flag is not None:
                f = click_option(name, o, defaults.get(name))(f)
        return f

    return decorate


# ---- recipes ----------------------------------------------------------------------------

_EXPECTED: dict[str, str] = {
    "text": "a string",
    "choice": "a string",
    "layer": "a string (a layer name or a file)",
    "path": "a string (a file path)",
    "folder": "a string (a folder)",
    "flag": "true or false",
    "int": "a whole number",
    "texts": "a string or a list of strings",
    "fields": 'a table of CANONICAL = "SOURCE" (e.g. { industry = "行业" })',
    "number": "a string or a number",
}


def toml_type(value: Any) -> str:
    """The TOML name of a parsed value's type, for messages."""
    for t, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string")):
        if isinstance(value, t):
            return name
    if isinstance(value, list | dict):
        return "array" if isinstance(value, list) else "table"
    return type(value).__name__


def toml_text(value: Any) -> str:
    """A parsed TOML value written back the way the recipe spells it, for messages."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _texts(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _field_items(value: Any) -> tuple[str, ...] | None:
    """A recipe's ``fields`` table -> ``[ROLE:]CANONICAL=SOURCE`` items; ``{ role = {...} }``
    tables map the input of that role."""
    if not isinstance(value, dict):
        return None
    items = []
    for k, v in value.items():
        if isinstance(v, str):
            items.append(f"{k}={v}")
        elif isinstance(v, dict) and all(isinstance(s, str) for s in v.values()):
            items += [f"{k}:{c}={s}" for c, s in v.items()]
        else:
            return None
    return tuple(items)


def recipe_value(o: Opt, value: Any, resolve: Callable[[str], Path]) -> tuple[Any, str | None]:
    """A recipe value for ``o`` converted to the field's type, or a problem.

    Returns
    -------
    (value, None), or (None, "expected ..., got ...") when the TOML type is wrong.
    """
    converted: Any = None
    if o.kind == "path" and isinstance(value, str):
        return (resolve(value) if value else None), None
    if o.kind in ("text", "choice", "layer", "folder") and isinstance(value, str):
        converted = value
    elif o.kind == "flag" and isinstance(value, bool):
        converted = value
    elif o.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        converted = value
    elif (
        o.kind == "number" and isinstance(value, str | int | float) and not isinstance(value, bool)
    ):
        converted = str(value)
    elif o.kind == "texts":
        converted = _texts(value)
    elif o.kind == "fields":
        converted = _field_items(value)
    if converted is None:
        return None, f"expected {_EXPECTED[o.kind]}, got {toml_text(value)} ({toml_type(value)})"
    return converted, None
