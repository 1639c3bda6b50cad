"""The ``sxzones`` command: a thin shell over the library.

Each command parses options, calls one library function and prints a summary. A user mistake
(an :class:`~sxzones.errors.SxzonesError` or a usage error) prints a short message and exits
with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sxzones.errors import SxzonesError
from sxzones.options import (
    CATALOG,
    OUT,
    OVERWRITE,
    CheckOptions,
    FirmOptions,
    Options,
    PhaseoutOptions,
    ServeOptions,
    SiteOptions,
    ValidateOptions,
    click_option,
    click_options,
)

if TYPE_CHECKING:
    from sxzones.layers import LayerReport
    from sxzones.layers.catalog import Catalog

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


catalog_option = click_option("catalog", CATALOG)


def _run(obj: Context, catalog: Path | None, opts: Options) -> None:
    """Run the analysis of ``opts`` on the catalogue and print its summary."""
    from sxzones.layers import load_catalog
    from sxzones.runs import run_analysis

    result = run_analysis(opts, load_catalog(catalog), say=obj.say)
    obj.say(str(result))


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
@click_options(ValidateOptions)
@click.pass_obj
def layers_validate(
    obj: Context, names: tuple[str, ...], catalog: Path | None, **params: Any
) -> None:
    """Validate catalogue layers (NAME) or files (PATH); all catalogue layers when none given.

    Prints a summary per layer: features read, loaded and rejected, CRS, provenance, and every
    finding with its rows. Exits 2 when a layer is refused as a whole.
    """
    opts = ValidateOptions.from_cli(params, names=names)
    if opts.rejects is not None:  # refused before any work, as every output is
        from sxzones.outputs import check_targets, refuse_inputs

        check_targets([opts.rejects], opts.overwrite, where="--rejects path")
        refuse_inputs([Path(opts.rejects)], [Path(n) for n in opts.names if Path(n).is_file()])
    cat = _validation_catalog(catalog, opts.names)
    reports = []
    failed: list[str] = []
    for t in obj.progress(list(opts.names) or list(cat.entries), "validating"):
        try:
            reports.append(_validate_one(t, cat, opts))
        except SxzonesError as exc:
            if obj.debug:
                raise
            failed.append(t)
            click.echo(f"{t}: REFUSED: {exc}", err=True)
            continue
        obj.say(reports[-1].summary())
    total_rej = sum(r.n_rejected for r in reports)
    obj.say(f"{len(reports)} layer(s) valid, {len(failed)} refused, {total_rej} row(s) rejected.")
    if opts.rejects is not None and reports:  # a refused file has no rejects table
        import pandas as pd

        from sxzones.outputs import write_csv

        frames = [r.rejects for r in reports if r.n_rejected]
        from sxzones.i18n import check_lang, translate_frame

        table = pd.concat(frames) if frames else reports[0].rejects if reports else pd.DataFrame()
        table = translate_frame(table, check_lang(opts.lang))
        write_csv(table, opts.rejects, overwrite=opts.overwrite)
        obj.say(f"rejects written to {opts.rejects}")
    if failed:
        raise SystemExit(2)


def _validation_catalog(catalog: Path | None, names: tuple[str, ...]) -> Catalog:
    """The catalogue; files given by path need none (then the default study area and
    working CRS)."""
    from sxzones.crs import SHANXI_BOUNDS, choose_working_crs
    from sxzones.errors import CatalogError
    from sxzones.layers import load_catalog
    from sxzones.layers.catalog import Catalog

    try:
        return load_catalog(catalog)
    except CatalogError:
        if catalog is not None or not names or not all(Path(n).exists() for n in names):
            raise
        return Catalog(Path("(none)"), choose_working_crs(SHANXI_BOUNDS), SHANXI_BOUNDS, {})


def _validate_one(name: str, cat: Catalog, opts: ValidateOptions) -> LayerReport:
    """Load and validate one catalogue layer or file; --role, --crs, --encoding, --layer and
    --field are for files given by path."""
    from sxzones.runs import load_input

    if opts.role == "equipment" and name not in cat:  # a table without geometry
        from sxzones.analyses.phaseout import equipment_rules
        from sxzones.layers.equipment import read_equipment
        from sxzones.rules import load_rules

        er = equipment_rules(load_rules())
        fields = opts.fields_for("equipment")
        return read_equipment(name, er, fields=fields, encoding=opts.encoding, sheet=opts.layer)[1]
    _, report = load_input(
        name,
        None if name in cat else opts.role,
        cat,
        crs=opts.crs,
        encoding=opts.encoding,
        layer=opts.layer,
        fields=opts.fields_for(opts.role or "context"),
    )
    return report


def analysis_command(
    name: str, cls: type[Options]
) -> Callable[[Callable[[dict[str, Any]], None]], click.Command]:
    """Register the command ``name`` that runs the analysis of ``cls``: the options derived
    from ``cls``, ``--catalog``, then the decorated function (usage checks on click's
    parameters before the options object is built; its docstring is the command's help)."""

    def decorate(check: Callable[[dict[str, Any]], None]) -> click.Command:
        @click.pass_obj
        def command(obj: Context, catalog: Path | None, **params: Any) -> None:
            check(params)
            _run(obj, catalog, cls.from_cli(params))

        callback = click_options(cls)(catalog_option(command))
        return cli.command(name, help=inspect.getdoc(check))(callback)

    return decorate


@analysis_command("firms", FirmOptions)
def firms_cmd(params: dict[str, Any]) -> None:
    """Firms inside built-up areas or within 20 km of one (晋环发〔2023〕1号 (四), (十三)).

    Writes firm_zones.csv (UTF-8 with BOM), firm_zones.xlsx, firm_zones.gpkg and rejects.csv
    to --out; every input row is in the outputs or in rejects.csv.
    """


@analysis_command("check", CheckOptions)
def check_cmd(params: dict[str, Any]) -> None:
    """Check proposed projects against control units, red lines and ban zones (三线一单).

    Writes site_check.json, site_check.csv, rejects.csv and a printable report-<id>.html per
    project to --out. Verdicts: conflict, conditional, clear, each rule with its clause.
    """
    if (params["project"] is None) == (params["projects"] is None):
        raise click.UsageError("give exactly one of --project or --projects")


@analysis_command("sites", SiteOptions)
def sites_cmd(params: dict[str, Any]) -> None:
    """PV and wind siting on candidate lands (clause 十五): eligible parts, reasons, capacity.

    Writes eligible_sites.gpkg / .csv / .xlsx (per-reason areas), siting.json and
    rejects.csv to --out.
    """


@analysis_command("phaseout", PhaseoutOptions)
def phaseout_cmd(params: dict[str, Any]) -> None:
    """Equipment phase-out and capacity screen (晋环发〔2023〕1号 (四), (五), 附表 1).

    Flags every unit the phase-out list names (4.3 m coke ovens, blast furnaces of 1200 m³
    and less, converters of 100 t and less ...), lists the units it could not assess, totals
    coking capacity by city against the provincial cap and flags new capacity. Writes
    phaseout.csv (UTF-8 with BOM), phaseout.xlsx, phaseout.gpkg (with --firms),
    coking_capacity.csv, phaseout.json and rejects.csv to --out.
    """
    if params.get("builtup") and not params.get("firms"):
        raise click.UsageError("--builtup joins the firm screen and needs --firms")


@cli.command("serve")
@catalog_option
@click_options(ServeOptions)
@click.pass_obj
def serve_cmd(obj: Context, catalog: Path | None, **params: Any) -> None:
    """Web pages for reviewers, inspectors and planners (site check, firm screen, siting).

    Loads the catalogue's layers and the rules once, then serves on --host:--port until
    Ctrl-C. Works offline: every script and style is bundled. Needs the optional extra
    `serve` (pip install 'sxzones[serve]').
    """
    import os

    from sxzones.serve import serve

    if params.get("token") is None and os.environ.get("SXZONES_SERVE_TOKEN"):
        params["token"] = os.environ["SXZONES_SERVE_TOKEN"]
    serve(ServeOptions.from_cli(params), catalog, say=obj.say)


@cli.command("run")
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click_option("overwrite", OVERWRITE)
@click_option(
    "out", replace(OUT, help="Output folder (overrides the recipe's).", cli_required=False)
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
    """Entry point of the ``sxzones`` command.

    Run as the command (``argv`` None), an analysis ends its process with ``os._exit`` once
    its outputs are published and its messages flushed: the interpreter's own teardown of a
    few hundred modules and the compiled kernels took 0.3-0.4 s, a quarter of a small run.
    Nothing is lost by it: every output is written, renamed into place and closed before the
    command returns, and only the idle workers of finished thread pools remain. ``serve``
    (its worker processes and server) exits the usual way, as does a call with ``argv``
    (tests, other programs)."""
    try:
        cli.main(args=argv, prog_name="sxzones")
    except SystemExit as exc:
        if argv is None and _quick_exit_ok():
            _quick_exit(exc.code)
        raise


def _quick_exit_ok() -> bool:
    """Whether this process may skip the interpreter's teardown: an analysis command, in the
    main thread, not ``serve``, no Dask cluster or child process started (they shut down at
    exit), and not turned off with ``SXZONES_QUICK_EXIT=0``."""
    import threading

    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    children = "multiprocessing" in sys.modules and sys.modules["multiprocessing"].active_children()
    return (
        os.environ.get("SXZONES_QUICK_EXIT", "1") != "0"
        and threading.current_thread() is threading.main_thread()
        and bool(words)
        and words[0] != "serve"
        and "distributed" not in sys.modules
        and not children
    )


def _quick_exit(code: object) -> None:
    """Flush what was said and end the process with ``code`` (SystemExit's meaning)."""
    import logging

    status = code if isinstance(code, int) else (0 if code is None else 1)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
    try:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the status still tells
        status = status or 1
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
