"""The ``sxzones`` command: a thin shell over the library.

Each command parses options, calls one library function and prints a summary. A user mistake
(an :class:`~sxzones.errors.SxzonesError` or a usage error) prints a short message and exits
with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from sxzones.errors import SxzonesError

if TYPE_CHECKING:
    from sxzones.maps.basemaps import Basemap

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    debug: bool
    quiet: bool

    def say(self, msg: str = "") -> None:
        if not self.quiet:
            click.echo(msg)

    def progress(self, items: Iterable[T], label: str, length: int | None = None) -> Iterator[T]:
        """A progress bar on a terminal; silent when piped or with --quiet."""
        if self.quiet or not sys.stderr.isatty():
            yield from items
            return
        with click.progressbar(items, label=label, length=length, file=sys.stderr) as bar:
            yield from bar


class UserError(click.ClickException):
    """A user mistake: short message, exit status 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


class SxGroup(click.Group):
    """A click group that turns library errors into :class:`UserError` (unless --debug)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SxzonesError as exc:
            obj = ctx.find_object(Context)
            if obj is not None and obj.debug:
                raise
            raise UserError(str(exc)) from None


@click.group(cls=SxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of short error messages.")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors (no summaries, no bars).")
@click.version_option(package_name="sxzones")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """sxzones: environmental zoning and siting analysis for Shanxi (晋环发〔2023〕1号)."""
    ctx.obj = Context(debug=debug, quiet=quiet)


catalog_option = click.option(
    "--catalog",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Layer catalogue (default: layers/catalog.toml, or $SXZONES_CATALOG).",
)


def rules_out_options(f: Callable[..., None]) -> Callable[..., None]:
    """``--rules FILE`` and ``--out DIR`` for the analysis commands."""
    f = click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        required=True,
        help="Output folder.",
    )(f)
    return click.option(
        "--rules",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Rules file (default analyses/rules/shanxi-2023.toml).",
    )(f)


figure_option = click.option(
    "--figure",
    "figure_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a static figure for reports here (PNG, and a PDF beside it).",
)


def basemap_options(f: Callable[..., None]) -> Callable[..., None]:
    """``--basemap`` and ``--embed-tianditu-key`` for commands that write a map."""
    f = click.option(
        "--embed-tianditu-key",
        is_flag=True,
        help="Write the Tianditu key from $SXZONES_TIANDITU_KEY into the map file "
        "(otherwise the page asks for it: open it with #tk=KEY).",
    )(f)
    return click.option(
        "--basemap",
        type=click.Choice(["none", "osm", "tianditu", "amap"]),
        default="none",
        show_default=True,
        help="Basemap of the map: none (offline), osm, tianditu (天地图, needs a key), "
        "amap (高德; overlays shifted to GCJ-02).",
    )(f)


def _basemap(kind: str, embed: bool) -> Basemap:
    from sxzones.maps.basemaps import Basemap

    return Basemap(kind, embed)


@cli.group(cls=SxGroup)
def layers() -> None:
    """List and validate layers of the catalogue or any file."""


@layers.command("list")
@catalog_option
@click.pass_obj
def layers_list(obj: Context, catalog: Path | None) -> None:
    """List the catalogue's layers with role, status and source."""
    from sxzones.layers import load_catalog

    cat = load_catalog(catalog)
    click.echo(f"{cat.path}: {len(cat.entries)} layers; working CRS {cat.working.reason}")
    width = max((len(n) for n in cat.entries), default=4)
    for name, e in cat.entries.items():
        p = e.provenance
        click.echo(f"  {name:<{width}}  {e.role:<13} {p.status:<13} {p.source} ({p.version})")


@layers.command("validate")
@click.argument("names", nargs=-1)
@catalog_option
@click.option("--role", default=None, help="Role for files given by path (default: context).")
@click.option("--crs", "crs", default=None, help="CRS of files given by path (e.g. gcj02, gk38).")
@click.option("--encoding", default=None, help="Attribute encoding of files given by path.")
@click.option("--layer", default=None, help="GeoPackage layer of files given by path.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every rejected row (layer, row, id, reason) to this CSV.",
)
@click.pass_obj
def layers_validate(
    obj: Context,
    names: tuple[str, ...],
    catalog: Path | None,
    role: str | None,
    crs: str | None,
    encoding: str | None,
    layer: str | None,
    rejects: Path | None,
) -> None:
    """Validate catalogue layers (NAME) or files (PATH); all catalogue layers when none given.

    Prints a summary per layer: features read, loaded and rejected, CRS, provenance, and every
    finding with its rows. Exits 2 when a layer is refused as a whole.
    """
    import pandas as pd

    from sxzones.crs import choose_working_crs
    from sxzones.errors import CatalogError
    from sxzones.layers import ROLES, load_catalog
    from sxzones.layers.catalog import Catalog
    from sxzones.outputs import write_csv
    from sxzones.runs import load_input

    try:
        cat = load_catalog(catalog)
    except CatalogError:
        if catalog is not None or not names or not all(Path(n).exists() for n in names):
            raise
        # Files given by path need no catalogue: use the default study area and working CRS.
        from sxzones.crs import SHANXI_BOUNDS

        cat = Catalog(Path("(none)"), choose_working_crs(SHANXI_BOUNDS), SHANXI_BOUNDS, {})
    targets = list(names) or list(cat.entries)
    if role is not None and role not in ROLES:
        raise click.BadParameter(
            f"{role!r}; roles: {', '.join(sorted(ROLES))}", param_hint="--role"
        )
    reports = []
    failed: list[str] = []
    for t in obj.progress(targets, "validating"):
        try:
            # --role, --crs, --encoding and --layer are for files given by path
            _, report = load_input(
                t, None if t in cat else role, cat, crs=crs, encoding=encoding, layer=layer
            )
        except SxzonesError as exc:
            if obj.debug:
                raise
            failed.append(t)
            click.echo(f"{t}: REFUSED: {exc}", err=True)
            continue
        reports.append(report)
        obj.say(report.summary())
    total_rej = sum(r.n_rejected for r in reports)
    obj.say(f"{len(reports)} layer(s) valid, {len(failed)} refused, {total_rej} row(s) rejected.")
    if rejects is not None:
        frames = [r.rejects for r in reports if r.n_rejected]
        table = pd.concat(frames) if frames else reports[0].rejects if reports else pd.DataFrame()
        write_csv(table, rejects, overwrite=True)
        obj.say(f"rejects written to {rejects}")
    if failed:
        raise SystemExit(2)


@cli.command("firms")
@click.option(
    "--firms",
    "firms",
    required=True,
    help="Firms: a catalogue layer name or a file (points or site polygons).",
)
@click.option("--builtup", required=True, help="Built-up areas: a catalogue layer or a file.")
@click.option(
    "--crs",
    default=None,
    help="CRS of the firms file when it declares none (e.g. wgs84, gcj02, gk38).",
)
@click.option("--id", "id_field", default=None, help="Firm id field (default firm_id).")
@click.option(
    "--industry-field",
    default=None,
    help="Industry field (default industry); values like steel or 钢铁.",
)
@click.option("--name-field", default=None, help="Firm name field (default name).")
@click.option("--encoding", default=None, help="Text encoding of the firms file.")
@click.option(
    "--distance",
    default=None,
    help="Distance of the 'within' zone, e.g. 20km (default: the rules file's).",
)
@click.option(
    "--rules",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Rules file (default analyses/rules/shanxi-2023.toml).",
)
@click.option(
    "--admin",
    default="admin",
    show_default=True,
    help="Admin layer for city and county ('' for none).",
)
@catalog_option
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder."
)
@click.option(
    "--format",
    "fmt",
    default="csv,xlsx,gpkg",
    show_default=True,
    help="Comma-separated outputs: csv, xlsx, gpkg.",
)
@click.option(
    "--map",
    "map_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    is_flag=False,
    flag_value="maps/firm-zones.html",
    help="Write an interactive map (default path maps/firm-zones.html).",
)
@figure_option
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist.")
@basemap_options
@click.pass_obj
def firms_cmd(
    obj: Context,
    firms: str,
    builtup: str,
    crs: str | None,
    id_field: str | None,
    industry_field: str | None,
    name_field: str | None,
    encoding: str | None,
    distance: str | None,
    rules: Path | None,
    admin: str,
    catalog: Path | None,
    out: Path,
    fmt: str,
    map_path: Path | None,
    figure_path: Path | None,
    overwrite: bool,
    basemap: str,
    embed_tianditu_key: bool,
) -> None:
    """Firms inside built-up areas or within 20 km of one (晋环发〔2023〕1号 (四), (十三)).

    Writes firm_zones.csv (UTF-8 with BOM), firm_zones.xlsx, firm_zones.gpkg and rejects.csv
    to --out; every input row is in the outputs or in rejects.csv.
    """
    from sxzones.layers import load_catalog
    from sxzones.runs.firms import parse_formats, run_firms

    cat = load_catalog(catalog)
    result = run_firms(
        firms,
        builtup,
        cat,
        out=out,
        rules=rules,
        admin=admin or None,
        crs=crs,
        id_field=id_field,
        industry_field=industry_field,
        name_field=name_field,
        encoding=encoding,
        distance=distance,
        formats=parse_formats(fmt),
        map_path=map_path,
        figure_path=figure_path,
        basemap=_basemap(basemap, embed_tianditu_key),
        overwrite=overwrite,
        say=obj.say,
    )
    obj.say(str(result))


@cli.command("check")
@click.option(
    "--project",
    "project",
    default=None,
    help='One project: a file (parcel, 界址点 file, ...), WKT, or "lon,lat".',
)
@click.option(
    "--projects",
    "projects",
    default=None,
    help="Many projects: a file with one feature per project.",
)
@click.option(
    "--crs",
    default=None,
    help="CRS of the project (needed for WKT and lon,lat): wgs84, gcj02, bd09, cgcs2000, gk38, ...",
)
@click.option(
    "--industry",
    default=None,
    help="steel, coking, cement, chemical, coal_power, "
    "pv, wind, ... (or the projects' industry field)",
)
@click.option(
    "--kind",
    default=None,
    type=click.Choice(["new", "expansion", "capacity_replacement"]),
    help="Project kind (default new, or the projects' kind field).",
)
@click.option("--id", "id_field", default=None, help="Project id field of a projects file.")
@catalog_option
@rules_out_options
@click.option(
    "--map",
    "map_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    is_flag=False,
    flag_value="maps/site-check.html",
    help="Write an interactive map (default path maps/site-check.html).",
)
@figure_option
@click.option(
    "--reports",
    type=click.Choice(["all", "flagged", "none"]),
    default="all",
    show_default=True,
    help="Printable report-<id>.html for every project, only conflict/conditional ones, "
    "or none (large batches).",
)
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist.")
@basemap_options
@click.pass_obj
def check_cmd(
    obj: Context,
    project: str | None,
    projects: str | None,
    crs: str | None,
    industry: str | None,
    kind: str | None,
    id_field: str | None,
    catalog: Path | None,
    rules: Path | None,
    out: Path,
    map_path: Path | None,
    figure_path: Path | None,
    reports: str,
    overwrite: bool,
    basemap: str,
    embed_tianditu_key: bool,
) -> None:
    """Check proposed projects against control units, red lines and ban zones (三线一单).

    Writes site_check.json, site_check.csv, rejects.csv and a printable report-<id>.html per
    project to --out. Verdicts: conflict, conditional, clear, each rule with its clause.
    """
    from sxzones.layers import load_catalog
    from sxzones.runs.site_check import run_check

    if (project is None) == (projects is None):
        raise click.UsageError("give exactly one of --project or --projects")
    cat = load_catalog(catalog)
    spec = project if project is not None else projects
    result = run_check(
        str(spec),
        cat,
        out=out,
        rules=rules,
        crs=crs,
        industry=industry,
        kind=kind,
        id_field=id_field,
        overwrite=overwrite,
        map_path=map_path,
        figure_path=figure_path,
        basemap=_basemap(basemap, embed_tianditu_key),
        reports=reports,
        say=obj.say,
    )
    obj.say(str(result))


@cli.command("sites")
@click.option(
    "--candidates",
    required=True,
    help="Candidate lands (role candidates): a catalogue layer or a file.",
)
@click.option(
    "--crs",
    default=None,
    help="CRS of a candidates file that does not declare one (gcj02 for Amap, wgs84, gk38 ...).",
)
@click.option(
    "--tech", type=click.Choice(["pv", "wind"]), required=True, help="Technology to site."
)
@click.option(
    "--exclude",
    "exclude",
    multiple=True,
    help="Extra exclusion NAME_OR_PATH[:SETBACK] (e.g. villages.gpkg:300m); a rule's reason "
    "with a setback (water:200m) changes that rule's setback. Repeatable.",
)
@click.option(
    "--no-rule-exclusions",
    is_flag=True,
    help="Apply only the --exclude layers, not the rules file's exclusions.",
)
@click.option("--dem", default=None, help="DEM raster (any CRS) for the slope criterion.")
@click.option(
    "--resource",
    "resources",
    multiple=True,
    help="Resource raster PATH:MIN (irradiance, wind speed); cells below MIN fail. Repeatable.",
)
@click.option("--grid", default=None, help="Grid layer (substations or lines) for the score.")
@catalog_option
@rules_out_options
@click.option(
    "--map",
    "map_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the interactive siting map here (e.g. maps/siting-pv.html).",
)
@figure_option
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist.")
@basemap_options
@click.pass_obj
def sites_cmd(
    obj: Context,
    candidates: str,
    crs: str | None,
    tech: str,
    exclude: tuple[str, ...],
    no_rule_exclusions: bool,
    dem: str | None,
    resources: tuple[str, ...],
    grid: str | None,
    catalog: Path | None,
    rules: Path | None,
    out: Path,
    map_path: Path | None,
    figure_path: Path | None,
    overwrite: bool,
    basemap: str,
    embed_tianditu_key: bool,
) -> None:
    """PV and wind siting on candidate lands (clause 十五): eligible parts, reasons, capacity.

    Writes eligible_sites.gpkg / .csv / .xlsx (per-reason areas), siting.json and
    rejects.csv to --out.
    """
    from sxzones.layers import load_catalog
    from sxzones.runs.siting import run_sites

    result = run_sites(
        candidates,
        load_catalog(catalog),
        out=out,
        tech=tech,
        crs=crs,
        exclude=list(exclude),
        rule_exclusions=not no_rule_exclusions,
        dem=dem,
        resources=list(resources),
        grid=grid,
        rules=rules,
        map_path=map_path,
        figure_path=figure_path,
        basemap=_basemap(basemap, embed_tianditu_key),
        overwrite=overwrite,
        say=obj.say,
    )
    obj.say(str(result))


@cli.command("run")
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (overrides the recipe's).",
)
@click.pass_obj
def run(obj: Context, recipe: Path, overwrite: bool, out: Path | None) -> None:
    """Run a recipe: a TOML file naming an analysis, its inputs, rules and output folder."""
    from sxzones.recipes import load_recipe, run_recipe

    r = load_recipe(recipe)
    result = run_recipe(r, out=out, overwrite=overwrite, say=obj.say)
    obj.say(str(result))


@cli.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sxzones-demo"),
    show_default=True,
    help="Folder for the demo's recipes, tables (out/) and maps (maps/).",
)
@click.pass_obj
def demo(obj: Context, out: Path) -> None:
    """Run the bundled Shanxi demonstration (firm screen, site check, siting, overview)."""
    from sxzones.demo import run_demo

    run_demo(out, say=obj.say)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sxzones`` command."""
    cli.main(args=argv, prog_name="sxzones")


if __name__ == "__main__":  # pragma: no cover
    main()
