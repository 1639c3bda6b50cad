"""Runs: assemble catalogue -> layers -> analysis -> outputs and maps, for the CLI and recipes.

Analyses never read files or draw; these functions do, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import geopandas as gpd

from sxzones._util import is_existing_path
from sxzones.errors import CRSError, LayerError, NoFeatureError, SxzonesError
from sxzones.i18n import Labels, Lang
from sxzones.layers import Catalog, LayerReport, read_file, validate_layer
from sxzones.options import (
    CheckOptions,
    FirmOptions,
    Options,
    OverviewOptions,
    PhaseoutOptions,
    SiteOptions,
    split_crs,
)
from sxzones.outputs import Publication

Say = Callable[[str], None]


@dataclass
class RunResult:
    """What a run wrote and a printable summary."""

    analysis: str
    outputs: list[Path] = field(default_factory=list)
    summary: str = ""
    manifest: Path | None = None
    #: the previous run's files in the output folder that this run did not write, removed
    #: (``--overwrite``: the folder holds this run's outputs only)
    removed: list[Path] = field(default_factory=list)

    @classmethod
    def of(cls, analysis: str, pub: Publication, written: list[Path], summary: str) -> RunResult:
        """The result of a run published by ``pub``: its manifest, and the previous run's
        files it removed (``--overwrite``), printed for every command alike."""
        return cls(analysis, written, summary, manifest=pub.manifest, removed=list(pub.removed))

    def __str__(self) -> str:
        lines = [self.summary] if self.summary else []
        lines += [f"  wrote {p}" for p in self.outputs]
        shown = self.removed if len(self.removed) <= 12 else self.removed[:10]
        lines += [f"  removed {p} (the previous run's; this run does not write it)" for p in shown]
        if len(shown) < len(self.removed):  # a batch's old reports: not one line each
            lines.append(
                f"  removed {len(self.removed) - len(shown)} more of the previous run's files "
                f"in {self.removed[0].parent} (this run does not write them)"
            )
        if self.manifest is not None:
            lines.append(f"  manifest {self.manifest}")
        return "\n".join(lines)


def figure_paths(path: Path | None) -> list[Path]:
    """The files a static figure at ``path`` is written to: the PNG and a PDF beside it."""
    return [] if path is None else [path.with_suffix(".png"), path.with_suffix(".pdf")]


def add_inputs(pub: Publication, reports: list[LayerReport], rules: Path | None = None) -> None:
    """Record a run's layers (file, hash, rows read, loaded, rejected, provenance) and its
    rules file in the manifest."""
    for r in reports:
        p = r.provenance
        pub.add_input(
            r.role,
            r.name,
            r.path if str(r.path) else None,
            rows_read=r.n_read,
            loaded=r.n_loaded,
            rejected=r.n_rejected,
            source=p.source if p else "user's own file",
            version=p.version if p else "",
            status=p.status if p else "own",
        )
    if rules is not None:
        pub.add_input("rules", Path(rules).name, Path(rules))


def find_file(name: str | Path, base: Path | None = None) -> Path:
    """A file by path; a relative path is looked up beside ``base`` (a recipe's folder)
    first, then here."""
    path = Path(name)
    tries = [base / path, path] if base is not None and not path.is_absolute() else [path]
    found = next((c for c in tries if is_existing_path(c)), None)
    if found is None:
        raise SxzonesError(f"{name}: no such file")
    return found


def coordinate_fields(
    fields: Mapping[str, str] | None,
) -> tuple[dict[str, str], str | None, str | None]:
    """Split ``--field x=.. y=..`` (a table's coordinate columns) from a field mapping:
    (the other fields, x column, y column). Both or neither must be given."""
    rest = {k: v for k, v in (fields or {}).items() if k not in ("x", "y")}
    x, y = (fields or {}).get("x") or None, (fields or {}).get("y") or None
    if (x is None) != (y is None):
        raise SxzonesError(
            f"--field x={x or '?'} y={y or '?'}: a table's coordinate columns are named "
            "together: give both --field x=COLUMN and --field y=COLUMN"
        )
    return rest, x, y


#: Roles of the layers the analyses judge against: a catalogue layer of these roles with
#: rows rejected is refused (:meth:`~sxzones.layers.Catalog.load_whole`). Inputs whose rows
#: are judged one by one (firms, projects, candidates, equipment) keep their rejects table.
JUDGED_ROLES = frozenset({"control_units", "redline", "builtup", "zones", "admin", "water"})


def admin_name(given: str | None, cat: Catalog) -> str | None:
    """The admin layer to use: ``given``; for the default name ``admin`` when the catalogue
    has no layer so named, its layer of role ``admin`` (an official catalogue names its own:
    the province was not checked, and firms of a neighbouring province were told clause 十三
    applies); None when none is given or found."""
    if not given:
        return None
    if str(given) == "admin" and "admin" not in cat:
        return cat.layer_of_role("admin")
    return str(given)


def load_input(
    source: str | Path,
    role: str | None,
    cat: Catalog,
    *,
    crs: str | None = None,
    fields: dict[str, str] | None = None,
    encoding: str | None = None,
    layer: str | None = None,
    base: Path | None = None,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """A catalogue layer by name, or a file by path, validated for ``role``.

    ``role`` None: a catalogue layer keeps its own role, a file is read as ``context``.
    Relative paths are looked up beside ``base`` (a recipe's folder) first, then here.
    """
    name = str(source)
    fields, x, y = coordinate_fields(fields)
    if name in cat:
        if x or y or any(fields.values()):
            raise SxzonesError(
                f"{name!r} is a catalogue layer: its fields are mapped in {cat.path} "
                f"([layers.{name}.fields]), not with --field or a --...-field option"
            )
        entry = cat.entry(name)
        if role is not None and entry.role != role:
            raise SxzonesError(
                f"layer {name!r} has role {entry.role!r}, but a {role!r} layer is needed here"
            )
        if entry.role in JUDGED_ROLES:  # built-up areas, admin ...: used whole
            return cat.load_whole(name)
        return cat.load(name)
    try:
        found = find_file(name, base)
    except SxzonesError:
        raise SxzonesError(
            f"{name!r} is neither a layer of {cat.path} nor an existing file. "
            f"Layers: {', '.join(sorted(cat.entries))}"
        ) from None
    # a table's points are made once, in the working CRS, by validation
    raw = read_file(found, crs=crs, encoding=encoding, layer=layer, x=x, y=y, points=False)
    return validate_layer(
        raw,
        role or "context",
        name=found.name,
        working_crs=cat.working.crs,
        fields={k: v for k, v in (fields or {}).items() if v},
        study_area=cat.study_area,
    )


def is_file(name: str, base: Path | None) -> bool:
    """Whether ``name`` is a file :func:`find_file` finds."""
    try:
        find_file(name, base)
    except SxzonesError:
        return False
    return True


def load_layer(
    name: str,
    role: str | None,
    cat: Catalog,
    flag: str,
    *,
    whose: str,
    base: Path | None = None,
    fields: dict[str, str] | None = None,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """A layer option's layer (``--builtup``, ``--admin``, ``--exclude``, ``--grid``):
    ``NAME_OR_PATH[@CRS]``, the CRS after the path for a file that declares none; its CRS
    errors give the fix that works for it (``PATH@CRS``), not ``--crs``, which is the main
    input's only (``whose``: "firms'", "candidates'", for messages).

    Raises
    ------
    SxzonesError
        ``@CRS`` after a catalogue layer, or a CRS that is not one; CRSError as the reader's
        with the fix for this option.
    """
    path, crs = split_crs(name, flag, lambda n: n in cat or is_file(n, base))
    if crs is not None and path in cat:
        raise SxzonesError(
            f"{flag} {name!r}: {path!r} is a catalogue layer: its CRS is given in "
            f"{cat.path.name} (crs = ...), not after @"
        )
    try:
        return load_input(path, role, cat, crs=crs, base=base, fields=fields)
    except CRSError as exc:
        head, _, fix = str(exc).partition(" Fix: ")
        how = f"{flag} PATH@CRS" + (":SETBACK" if flag == "--exclude" else "")
        if crs is not None:  # the file's own CRS contradicts the one after @
            raise CRSError(
                f"{head} Fix: drop @{crs} to use the file's own, or correct the file if it is wrong"
            ) from None
        raise CRSError(
            f"{head} Fix: give the CRS after the path ({how}; --crs is the {whose} only)"
            + (": " + fix.replace("--crs ", f"{Path(path).name}@") if fix else "")
            + "; or a catalogue entry for it with crs = ..."
        ) from None


def refuse_all_rejected(
    pub: Publication,
    report: LayerReport,
    rules: Path | None = None,
    *,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> NoReturn:
    """Publish ``rejects.csv`` with every row of a file whose every row was rejected (in
    ``lang``), with the manifest naming the file, and refuse the run: the message names the
    commonest reasons, their fix, and the rejects file (audit 11 E18). A run whose main input
    has no valid row calls this instead of stopping with the reasons on the screen only.

    Raises
    ------
    LayerError
        Always (the command line's exit status 2).
    """
    from sxzones.i18n import translate_frame
    from sxzones.outputs import write_csv

    rej = report.rejects
    staged = pub.stage("rejects.csv", rows=len(rej))
    write_csv(translate_frame(rej, lang, lab=lab), staged, overwrite=True)
    add_inputs(pub, [report], rules)
    pub.publish()
    top = sorted((f for f in report.findings if f.kind == "rejected"), key=lambda f: -len(f.rows))
    word = top[0].word if top else "row"
    said = "; ".join(
        f"{f.message}{f' [field {f.field}]' if f.field else ''} "
        f"({len(f.rows)} {word}{'s' if len(f.rows) > 1 else ''}"
        + (f"; fix: {f.fix})" if f.fix else ")")
        for f in top[:3]
    )
    more = f"; and {len(top) - 3} other reason{'s' if len(top) > 4 else ''}" if len(top) > 3 else ""
    fix = next((f.fix for f in top if f.fix), "correct the rows as rejects.csv says")
    done = {"check": "checked", "phaseout": "assessed"}.get(pub.analysis, "screened")
    raise LayerError(
        f"{report.path}: no feature passed validation: all {report.n_rejected} {word}s were "
        f"rejected, so nothing was {done}. Commonest reasons: {said or 'none given'}{more}. "
        f"Every {word} with its reason is in {pub.out / 'rejects.csv'}. Fix: {fix} (a column "
        "read under the wrong name is mapped with --field NAME=COLUMN), then run again"
    )


@contextmanager
def refusing_all_rejected(
    pub: Publication,
    roles: Collection[str],
    rules: Path | None = None,
    *,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> Iterator[None]:
    """Within the block, a file of role in ``roles`` whose every row validation rejects
    (:class:`~sxzones.errors.NoFeatureError`) is refused by :func:`refuse_all_rejected`:
    rejects.csv with every row and its reason, and the commonest reasons with their fix.
    Any other error passes unchanged."""
    try:
        yield
    except NoFeatureError as exc:
        rep = exc.report
        if not isinstance(rep, LayerReport) or rep.role not in roles:
            raise
        refuse_all_rejected(pub, rep, rules, lang=lang, lab=lab)


def run_analysis(opts: Options, cat: Catalog, *, say: Say = print) -> RunResult:
    """Run the analysis that ``opts`` are the options of (firms, check, sites, overview)."""
    if isinstance(opts, FirmOptions):
        from sxzones.runs.firms import run_firms

        return run_firms(opts, cat)
    if isinstance(opts, CheckOptions):
        from sxzones.runs.site_check import run_check

        return run_check(opts, cat)
    if isinstance(opts, SiteOptions):
        from sxzones.runs.siting import run_sites

        return run_sites(opts, cat)
    if isinstance(opts, PhaseoutOptions):
        from sxzones.runs.phaseout import run_phaseout

        return run_phaseout(opts, cat)
    if isinstance(opts, OverviewOptions):
        from sxzones.runs.overview import run_overview

        return run_overview(opts, cat, say=say)
    raise TypeError(f"no run for {type(opts).__name__}")
