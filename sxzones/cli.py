"""The ``sxzones`` command: a thin shell over the library.

Each command parses options, calls one library function and prints a summary. A user mistake
(an :class:`~sxzones.errors.SxzonesError` or a usage error) prints a short message and exits
with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click

from sxzones.errors import SxzonesError

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
    from sxzones.layers import ROLES, load_catalog, load_layer, read_file, validate_layer
    from sxzones.layers.catalog import Catalog
    from sxzones.outputs import write_csv

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
            if t in cat:
                _, report = load_layer(
                    cat.entry(t), working_crs=cat.working.crs, study_area=cat.study_area
                )
            else:
                if not Path(t).exists():
                    raise SxzonesError(
                        f"{t!r} is neither a layer of {cat.path} nor an existing file. Layers: "
                        f"{', '.join(sorted(cat.entries))}"
                    )
                raw = read_file(t, crs=crs, encoding=encoding, layer=layer)
                _, report = validate_layer(
                    raw,
                    role or "context",
                    name=Path(t).name,
                    working_crs=cat.working.crs,
                    study_area=cat.study_area,
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sxzones`` command."""
    cli.main(args=argv, prog_name="sxzones")


if __name__ == "__main__":  # pragma: no cover
    main()
