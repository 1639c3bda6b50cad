"""Run the siting screen: candidates and exclusions by role, rasters, outputs, map, figure."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from sxzones import __version__
from sxzones.analyses.siting import Exclusion, RasterCriterion, SitingResult, screen_sites
from sxzones.errors import SxzonesError
from sxzones.layers import Catalog, LayerReport
from sxzones.options import SiteOptions
from sxzones.outputs import check_targets, write_csv, write_gpkg, write_json, write_xlsx
from sxzones.rules import TECHS, RuleSet, load_rules
from sxzones.runs import RunResult, find_file, load_input
from sxzones.units import parse_distance

OUTPUTS = ("eligible_sites.gpkg", "eligible_sites.csv", "eligible_sites.xlsx", "siting.json")
_SETBACK = re.compile(r"^(.*):(\d+(?:\.\d+)?\s*(?:m|km)?)$", re.IGNORECASE)


def parse_exclude(
    spec: str, exists: Callable[[str], bool] = lambda name: False
) -> tuple[str, float | None]:
    """``NAME_OR_PATH[:SETBACK]`` -> (name or path, setback in metres or None).

    ``exists(name)`` says whether a name is a layer or a file as it stands (then a colon in
    it is part of the name). Otherwise text after the last colon is a setback and must be
    one: ``villages.gpkg:300米`` or ``water:-200m`` is refused with the syntax.

    Raises
    ------
    SxzonesError
    """
    spec = spec.strip()
    m = _SETBACK.match(spec)
    if m and m.group(1):
        return m.group(1), parse_distance(m.group(2), allow_zero=True)
    name, colon, setback = spec.rpartition(":")
    if colon and name and setback and not exists(spec) and not re.search(r"[/\\]", setback):
        raise SxzonesError(
            f"--exclude {spec!r}: the setback {setback!r} is not a distance. Write "
            "NAME_OR_PATH:SETBACK with a setback of 0 or more metres or kilometres, e.g. "
            "villages.gpkg:300m or water:0.2km"
        )
    return spec, None


def parse_resource(spec: str) -> tuple[str, float]:
    """``PATH:MIN`` -> (path, minimum)."""
    path, sep, value = spec.rpartition(":")
    try:
        if not sep or not path:
            raise ValueError
        return path, float(value)
    except ValueError:
        raise SxzonesError(
            f"--resource {spec!r}: write PATH:MIN, e.g. ghi.tif:1400 (cells below MIN fail)"
        ) from None


def _source(rep: LayerReport) -> str:
    p = rep.provenance
    return f"{p.source} ({p.version}, {p.status})" if p else rep.name


def _is_file(name: str, base: Path | None) -> bool:
    try:
        find_file(name, base)
    except SxzonesError:
        return False
    return True


def build_exclusions(
    cat: Catalog,
    ruleset: RuleSet,
    tech: str,
    extra: list[str],
    use_rules: bool = True,
    base: Path | None = None,
) -> tuple[list[Exclusion], list[dict[str, str]], list[LayerReport]]:
    """Exclusions of the rules file found in the catalogue by role (in the rules' order),
    then the user's ``NAME_OR_PATH[:SETBACK]`` layers. A rule whose role has no layer is
    listed as not assessed. ``NAME`` may also be a rule's reason, to change its setback."""
    overrides: dict[str, float] = {}
    users: list[tuple[str, float]] = []
    reasons = {str(r.params["reason"]) for r in ruleset.of_kind("siting_exclusion")}
    for spec in extra:
        name, setback = parse_exclude(spec, lambda n: n in cat or _is_file(n, base))
        if name in reasons and name not in cat:
            if setback is None:
                raise SxzonesError(f"--exclude {spec!r}: give the new setback, e.g. {name}:200m")
            overrides[name] = setback
        else:
            users.append((name, setback or 0.0))
    out: list[Exclusion] = []
    missing: list[dict[str, str]] = []
    reports: list[LayerReport] = []
    if use_rules:
        for rule in ruleset.of_kind("siting_exclusion"):
            if tech not in rule.params["techs"]:
                continue
            role = rule.layer_role
            layer = cat.layer_of_role(role)
            if layer is None:
                missing.append(
                    {
                        "reason": str(rule.params["reason"]),
                        "rule": rule.id,
                        "clause": rule.clauses,
                        "why": f"no layer with role {role!r} in {cat.path.name}",
                    }
                )
                continue
            frame, rep = cat.load(layer)
            reports.append(rep)
            ex = Exclusion.from_rule(rule, frame, tech, layer=layer, source=_source(rep))
            if ex.reason in overrides:
                ex.setback_m = overrides.pop(ex.reason)
            out.append(ex)
    if overrides:
        raise SxzonesError(
            f"--exclude {sorted(overrides)}: these rules have no layer here "
            f"({', '.join(m['why'] for m in missing) or 'or rule exclusions are off'})"
        )
    for name, setback in users:
        frame, rep = load_input(name, None, cat, base=base)
        reports.append(rep)
        reason = name if name in cat else Path(name).stem
        out.append(
            Exclusion(
                reason,
                frame.geometry.to_numpy(),
                setback,
                label_zh="用户排除图层",
                label_en=f"user exclusion ({reason})",
                clause="user layer",
                layer=name,
                source=_source(rep),
            )
        )
    return out, missing, reports


def write_siting_outputs(res: SitingResult, rejects: pd.DataFrame, out: Path) -> list[Path]:
    sites = res.sites
    table = pd.DataFrame(sites.drop(columns="geometry"))
    by_kind = (
        table.groupby("kind", sort=True)
        .agg(
            candidates=("site_id", "size"),
            eligible_sites=("eligible", "sum"),
            candidate_km2=("candidate_m2", lambda s: round(s.sum() / 1e6, 3)),
            eligible_km2=("eligible_m2", lambda s: round(s.sum() / 1e6, 3)),
            capacity_mw=("capacity_mw", lambda s: round(s.sum(), 1)),
        )
        .reset_index()
    )
    meta = res.meta
    ex_rows = pd.DataFrame(
        [{**e, "assessed": True} for e in meta["exclusions"]]
        + [{**m, "assessed": False} for m in meta["not_assessed"]]
    )
    layers = {"eligible_sites": sites, "removed": res.removed}
    if len(res.turbines):
        layers["turbines"] = res.turbines
    written = [write_gpkg(layers, out / "eligible_sites.gpkg", overwrite=True)]
    written.append(write_csv(table, out / "eligible_sites.csv", overwrite=True))
    written.append(
        write_xlsx(
            {"sites": table, "summary": by_kind, "exclusions": ex_rows},
            out / "eligible_sites.xlsx",
            overwrite=True,
        )
    )
    written.append(
        write_json(
            {"sxzones": __version__, **meta, "summary": by_kind.to_dict("records")},
            out / "siting.json",
            overwrite=True,
        )
    )
    written.append(write_csv(rejects, out / "rejects.csv", overwrite=True))
    return written


def _rasters(opts: SiteOptions) -> list[RasterCriterion]:
    """The slope criterion of ``--dem`` and the ``--resource PATH:MIN`` minimums."""
    rasters = []
    if opts.dem:
        rasters.append(RasterCriterion(find_file(opts.dem, opts.base), "slope", 0.0, "slope"))
    for spec in opts.resources:
        path, minimum = parse_resource(spec)
        p = find_file(path, opts.base)
        rasters.append(RasterCriterion(p, "minimum", minimum, f"resource_{p.stem}"))
    return rasters


def _optional_layers(
    opts: SiteOptions, cat: Catalog, reports: list[LayerReport]
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """The grid and admin layers when given (admin: the catalogue's by default); their
    reports are appended to ``reports``."""
    found: list[gpd.GeoDataFrame | None] = []
    for role, name in (("grid", opts.grid), ("admin", opts.admin)):
        if not name or (role == "admin" and name == "admin" and "admin" not in cat):
            found.append(None)
            continue
        frame, rep = load_input(name, role, cat, fields=opts.fields_for(role), base=opts.base)
        reports.append(rep)
        found.append(frame)
    return found[0], found[1]


def run_sites(opts: SiteOptions, cat: Catalog) -> RunResult:
    """Load candidates, exclusions and rasters; screen; write outputs, map and figure.

    ``opts.lang`` is carried for the translated outputs."""
    t0 = time.perf_counter()
    out, tech, candidates = opts.out, opts.tech, opts.candidates
    if tech not in TECHS:
        raise SxzonesError(f"--tech {tech!r}: choose from {', '.join(TECHS)}")
    check_targets([out / o for o in OUTPUTS] + [out / "rejects.csv"], opts.overwrite)
    ruleset = load_rules(opts.rules)
    cand, crep = load_input(
        candidates,
        "candidates",
        cat,
        crs=opts.crs,
        encoding=opts.encoding,
        fields=opts.fields_for("candidates"),
        base=opts.base,
    )
    exclusions, missing, reports = build_exclusions(
        cat, ruleset, tech, list(opts.exclude), opts.rule_exclusions, opts.base
    )
    rasters = _rasters(opts)
    g, a = _optional_layers(opts, cat, reports)
    t_load = time.perf_counter()
    res = screen_sites(
        cand,
        exclusions,
        rasters,
        ruleset,
        tech,
        grid=g,
        admin=a,
        not_assessed=missing,
        as_of_year=opts.as_of_year,
    )
    if not opts.dem:
        res.meta["not_assessed"].append(
            {"reason": "slope", "rule": "siting_terrain", "why": "no DEM given (--dem)"}
        )
    res.meta["candidates"] = {"layer": str(candidates), "source": _source(crep)}
    t_screen = time.perf_counter()
    # every rejected row of every layer read, not only the candidates': a red-line polygon
    # refused by validation would otherwise leave its land eligible without a word
    parts = [crep.rejects] + [r.rejects for r in reports if r.n_rejected]
    rejects = pd.concat(parts, ignore_index=True) if len(parts) > 1 else crep.rejects
    written = write_siting_outputs(res, rejects, out)
    if opts.map_path is not None:
        from sxzones.maps.interactive import save_map
        from sxzones.maps.siting_map import siting_map

        smap = siting_map(res, cand, opts.map_basemap())
        written.append(save_map(smap, opts.map_path, overwrite=True))
    if opts.figure_path is not None:
        from sxzones.maps.siting_map import siting_figure

        written.extend(siting_figure(res, cand, a, opts.figure_path))
    t_end = time.perf_counter()
    s = res.sites
    lines = [
        f"siting screen ({tech}): {len(s)} candidates, {int(s['eligible'].sum())} with eligible "
        f"land; eligible {s['eligible_m2'].sum() / 1e6:.2f} of {s['candidate_m2'].sum() / 1e6:.2f}"
        f" km²; capacity {s['capacity_mw'].sum():.1f} MW",
        f"input rows {crep.n_read} = screened {len(s)} + rejected {crep.n_rejected}",
        f"rows rejected in the exclusion and grid layers (in rejects.csv): "
        f"{sum(r.n_rejected for r in reports)}",
        "removed by reason (km²): "
        + ", ".join(f"{r} {s[f'removed_{r}_m2'].sum() / 1e6:.2f}" for r in res.meta["reasons"]),
        "not assessed: "
        + (", ".join(f"{m['reason']} ({m['why']})" for m in res.meta["not_assessed"]) or "none"),
        f"time: load {t_load - t0:.2f} s, screen {t_screen - t_load:.2f} s, "
        f"write {t_end - t_screen:.2f} s",
    ]
    for r in [crep, *reports]:
        lines += [f"  {x}" for x in r.summary().splitlines()[:1]]
    return RunResult("sites", written, "\n".join(lines))
