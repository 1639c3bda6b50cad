"""What the pages ask for, done by the runs of the command line (:mod:`sxzones.runs`).

Each function builds the options object of the analysis (as ``sxzones check``, ``firms`` and
``sites`` do from their flags), calls the run on the preloaded catalogue into a job folder,
and returns what the page shows: the run's own JSON and tables, features for the map in
WGS84 (EPSG:4326) and the names of the files to download. The downloads are the run's files,
byte for byte.
"""

from __future__ import annotations

import functools
import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from sxzones.errors import SxzonesError
from sxzones.layers import ROLES
from sxzones.layers.readers import RawLayer, coordinate_pair, table_columns
from sxzones.options import COORDINATE_FIELDS, CheckOptions, FirmOptions, SiteOptions
from sxzones.outputs import write_gpkg
from sxzones.reports import report_names
from sxzones.runs.site_check import check_summary
from sxzones.serve import uploads
from sxzones.serve.state import Job, ServeState, features, to_wgs84

__all__ = ["check_job", "firm_columns", "firms_job", "sites_job"]

Upload = tuple[BinaryIO, str]
#: Rows of a table sent to the page (the downloads hold them all).
MAX_ROWS = 2000
#: Points drawn on the inspector's map.
MAX_POINTS = 5000


def _features(frame: gpd.GeoDataFrame, columns: list[str], tolerance_m: float = 0.0) -> Any:
    """GeoJSON (a dict) of ``frame`` in WGS84 with ``columns`` as properties (geometries
    simplified by ``tolerance_m`` metres of the working CRS, for display only)."""
    if frame.empty:
        return {"type": "FeatureCollection", "features": []}
    keep = [c for c in columns if c in frame.columns]
    geoms = frame.geometry.to_numpy()
    if tolerance_m:
        geoms = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
    tr = to_wgs84(CRS(frame.crs))
    geoms = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    props = json.loads(pd.DataFrame(frame[keep]).to_json(orient="records", force_ascii=False))
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": p, "geometry": json.loads(shapely.to_geojson(g))}
            for p, g in zip(props, geoms, strict=True)
        ],
    }


def _as_given(table: pd.DataFrame) -> pd.DataFrame:
    """A CSV output as the page shows it: the ``'`` that the CSV puts before a text a
    spreadsheet would take for a formula (``'=1+2``) taken off again, so the page shows and
    searches the value as given (an id search for ``=1+2`` found nothing)."""
    from sxzones.outputs import formula_cells

    for col in table.columns:
        quoted = table[col].str.startswith("'", na=False)
        if quoted.any():
            inner = table[col].where(quoted, "").str[1:]
            was = formula_cells(inner)
            if was is not None:
                table.loc[quoted & was, col] = inner[quoted & was]
    return table


def downloads(job: Job) -> list[str]:
    """The files of a job's output folder, by name."""
    return sorted(p.name for p in (job.folder / "out").iterdir() if p.is_file())


def as_given(text: str, inputs: list[Path]) -> str:
    """``text`` with the server's copies of the uploads named as the page's command names
    them: the folder of each upload (``inputs``: the files the run read from the job's
    ``in/`` folder; a zip's unpacked folder) cut, so ``/tmp/…/in/dem_utm.tif`` is
    ``dem_utm.tif`` (the command, run in a folder holding the files, writes that)."""
    for folder in sorted({str(p.parent) for p in inputs}, key=len, reverse=True):
        text = text.replace(folder + "/", "")
    return text


def page_record(out: Path, inputs: list[Path], added: dict[str, str] | None = None) -> None:
    """Make a job's kept record say what the page's command writes: the JSON outputs and
    the manifest name the uploads as the command does (:func:`as_given`), the manifest's
    size and SHA-256 of a JSON file so changed follow it and its ``run_id`` is computed
    again as the run computes it; ``added``: files the page writes besides the command's
    (name: what it is), listed with their size and SHA-256 and ``"added_by": "page"``.

    Why after the run: the command records the paths it was given, and the page can only
    give the run its own copies; the files' bytes are otherwise the command's."""
    from sxzones.outputs import MANIFEST_NAME, file_sha256, run_id, write_json, write_text

    mpath = out / MANIFEST_NAME
    doc = json.loads(as_given(mpath.read_text(encoding="utf-8"), inputs))
    for entry in doc["files"]:
        path = out / entry["name"]
        if path.suffix == ".json":
            text = path.read_text(encoding="utf-8")
            if as_given(text, inputs) != text:
                write_text(as_given(text, inputs), path, overwrite=True)
                entry |= {"size": path.stat().st_size, "sha256": file_sha256(path)}
    for name, what in (added or {}).items():
        path = out / name
        doc["files"].append(
            {"name": name, "size": path.stat().st_size, "sha256": file_sha256(path),
             "added_by": "page", "what": what}
        )  # fmt: skip
    doc["run_id"] = run_id(doc)  # as Publication.publish computes it
    write_json(doc, mpath, overwrite=True)


# ---- reviewer: the site check -----------------------------------------------------------


#: The project(s) as a file, where they came from, the file as read when it was made here,
#: and the function that writes that file when it was not written yet.
Spec = tuple[str, str, RawLayer | None, Callable[[], Path] | None]


def _project_spec(state: ServeState, form: dict[str, str], upload: Upload | None, job: Job) -> Spec:
    """The project(s) as a file in the job's ``in/`` folder, where they came from (``file``,
    ``corners``, ``drawing``, ``drawn``, ``pasted``), the file as read (when it is made here)
    and the writer of a file not written yet: the uploaded file (a zip unpacked, KML as
    GeoJSON, a table of corners read as the command's ``--corners`` reads it: one parcel per
    地块编号; a DXF drawing one project, as ``--project`` reads it, unless the page's box
    says each closed polyline is one), or the drawn or pasted geometry, whose file is
    written when the downloads are (:func:`sxzones.serve.uploads.parcel_layer` reads it in
    memory meanwhile; the file is only hashed for the manifest)."""
    folder = job.folder / "in"
    name = form.get("name", "").strip()[:120]
    pid = name or "P1"
    declared = _declared_ha(form.get("declared_ha", ""))

    def parcel(geom: Any, crs: str | None, source: str) -> Spec:
        write = functools.partial(uploads.geometry_file, geom, folder, pid, name, declared)
        path = folder / uploads.PARCEL_FILE
        raw = uploads.parcel_layer(path, geom, pid, name, declared, crs)
        if raw is None:  # to be read from the file
            return str(write()), source, None, None
        return str(path), source, raw, write

    if upload is not None and upload[1]:
        path = uploads.save_upload(upload[0], upload[1], folder, state.limits)
        if path.suffix == ".zip":
            path = uploads.unpack(path, state.limits)
        uploads.check_limits(path, state.limits, form.get("layer", "").strip() or None)
        if path.suffix in (".kml", ".kmz", ".ovkml"):
            path = uploads.kml_to_geojson(path)
        if path.suffix in uploads.TABLES and form.get("vertices") == "on":
            return str(path), "corners", None, None  # read as `check --projects F --corners`
        if path.suffix.lower() == ".dxf" and form.get("dxf_projects") != "on":
            return str(path), "drawing", None, None  # a 红线图: `check --project F.dxf`
        return str(path), "file", None, None
    if form.get("geojson"):
        try:
            geom = shapely.from_geojson(form["geojson"])
        except Exception as exc:  # GEOS names the problem; anything it refuses is bad input
            raise uploads.UploadError(f"the drawn shape cannot be read ({exc})") from None
        if shapely.get_num_coordinates(geom) > state.limits.max_vertices:
            raise uploads.UploadError("the drawn shape has more vertices than the limit")
        return parcel(geom, "wgs84", "drawn")  # Leaflet: WGS84 longitude and latitude
    if form.get("coords", "").strip():
        rings, said = uploads.pasted_rings(form["coords"][: state.limits.max_bytes])
        if sum(len(r) for r in rings) > state.limits.max_vertices:
            raise uploads.UploadError("more pasted corners than the vertex limit")
        geom = uploads.rings_to_geometry(rings)
        spec = parcel(geom, form.get("crs") or None, "pasted")
        if spec[2] is not None:
            spec[2].notes[:0] = said  # shown with the result, as the CLI's --project says them
        return spec
    raise uploads.UploadError(
        "no project: draw a parcel on the map, choose a file, or paste coordinates"
    )


def _declared_ha(text: str) -> float | None:
    """The declared area typed on the page (hectares), or None."""
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise SxzonesError(f"declared area {text!r}: give hectares, e.g. 0.96") from None
    if not 0 < value < 1e7:
        raise SxzonesError(f"declared area {value:g} ha: give a positive number of hectares")
    return value


def check_options(
    state: ServeState, form: dict[str, str], spec: str, source: str, out: Path
) -> CheckOptions:
    """The options of ``sxzones check`` for the page's choices: an uploaded file is
    ``--projects`` (each feature or row a project; a table of corners with ``--corners``),
    an uploaded DXF drawing (``source`` ``drawing``: a 红线图, unless the page's box says
    each closed polyline is a project) and a drawn or pasted parcel ``--project``; the
    工作表或图层 field is ``--layer`` for an upload; industry and kind '' = the file's own
    fields."""
    crs = form.get("crs") or None
    if source == "drawn":
        crs = "wgs84"  # drawn on the map: Leaflet gives WGS84 longitude and latitude
    upload = source in ("file", "corners", "drawing")
    batch = source in ("file", "corners")
    return CheckOptions(
        project=None if batch else spec,
        projects=spec if batch else None,
        corners=source == "corners",
        crs=crs,
        layer=(form.get("layer", "").strip() or None) if upload else None,
        industry=form.get("industry") or None,
        kind=form.get("kind") or None,
        out=out,
        overwrite=True,
        rules=state.rules_path,
        reports="all",
    )


def check_job(state: ServeState, form: dict[str, str], upload: Upload | None) -> dict[str, Any]:
    """The site check of one upload or drawn/pasted parcel: the ``site_check.json`` document,
    the map's features, and the names of the downloads (JSON, CSV, GPKG, the reports).

    Only the check is done here; the downloads are written from the kept result when one of
    them is first asked for (:meth:`Job.file`), by the command's own writer, so that they are
    the command's files byte for byte while a request costs the check alone."""
    from sxzones.runs.site_check import (
        check_document,
        check_inputs,
        check_publication,
        compute_check,
    )

    with state.job() as job:
        spec, source, raw, write = _project_spec(state, form, upload, job)
        opts = check_options(state, form, spec, source, job.folder / "out")
        ruleset = state.ruleset  # loaded once; read only
        if opts.industry is not None:
            ruleset.industries.require(opts.industry, "--industry")
        if opts.kind is not None:
            ruleset.project_kinds.require(opts.kind, "--kind")
        run = compute_check(opts, state.catalog, ruleset, layers=state.site_layers(), raw=raw)
        pub = check_publication(opts)
        if write is None:  # hashed now: the upload goes at the end
            check_inputs(pub, run)
        # encoded as JSON by the answer (tasks.encode: a NaN, which JSON cannot hold, as null)
        doc = check_document(run.result, run.details, run.prep, state.catalog)
        reports = report_names([str(d["project_id"]) for d in run.details])
        job.names = frozenset([*CHECK_FILES, *reports])
        kept = _uploads(job, Path(spec))
        job.writer = functools.partial(_write_check, state, opts, run, pub, write, kept)
        if len(run.details) > LAZY_MAX_PROJECTS:  # a batch: written now, not kept in memory
            job.writer()
            job.writer = None
        return {
            "job": job.id,
            "summary": as_given(check_summary(run), kept),
            "document": doc,
            "map": _check_map(state, doc, run),
            "downloads": sorted(job.names),
            "command": _command("check", opts, spec),
        }


#: Checks of more projects than this write their downloads during the request (a batch is
#: not waited for as a single parcel is, and its result is not kept in memory).
LAZY_MAX_PROJECTS = 1000
#: The files of a site check's job besides its reports.
CHECK_FILES = (
    "manifest.json",
    "rejects.csv",
    "site_check.csv",
    "site_check.gpkg",
    "site_check.json",
)


def _write_check(
    state: ServeState,
    opts: CheckOptions,
    run: Any,
    pub: Any,
    parcel: Callable[[], Path] | None = None,
    inputs: list[Path] | None = None,
) -> None:
    """Write a kept site check's outputs into its job folder: the command's files (by the
    command's own writer), then ``site_check.gpkg``: the CSV's rows with the parcels,
    listed in the manifest as the page's own file (:func:`page_record`, which also names
    the ``inputs`` uploaded as the command does). ``parcel``: writes the drawn or pasted
    parcel's file, hashed for the manifest here."""
    from sxzones.runs.site_check import check_inputs, write_check_run

    if parcel is not None:
        path = parcel()
        check_inputs(pub, run)
        shutil.rmtree(path.parent, ignore_errors=True)  # as the request removes its uploads
    with pub:
        write_check_run(opts, state.catalog, run, pub)
        pub.publish()
    table = pd.read_csv(opts.out / "site_check.csv", dtype=str, keep_default_na=False)
    projects = run.projects
    gpkg = gpd.GeoDataFrame(table, geometry=projects.geometry.to_numpy(), crs=projects.crs)
    write_gpkg(gpkg, opts.out / "site_check.gpkg", overwrite=True, layer="site_check")
    page_record(opts.out, inputs or [], {"site_check.gpkg": GPKG_NOTE})


#: The manifest's word on the page's ``site_check.gpkg``, which ``sxzones check`` does not write.
GPKG_NOTE = (
    "site_check.csv's rows with each project's geometry (layer site_check, the working CRS), "
    "to open in GIS; written by the page, not by `sxzones check`"
)


def _uploads(job: Job, *paths: Path | None) -> list[Path]:
    """The files of ``paths`` the run read from the job's own folder (the uploads)."""
    return [p for p in paths if p is not None and job.folder in Path(p).parents]


def _text(v: Any) -> str:
    """A cell as the CSV holds it: text, '' for a missing value."""
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def _check_map(state: ServeState, doc: dict[str, Any], run: Any) -> Any:
    """The projects, the control units and the red lines they touch, as GeoJSON (the
    layers' features encoded once at start: :class:`~sxzones.serve.state.Shown`)."""
    units = {str(u["unit_code"]) for p in doc["projects"] for u in p["control_units"]}
    reds = {str(r.get("redline_id")) for p in doc["projects"] for r in p["redline"]}
    cu, rl = state.shown["control_units"], state.shown["redline"]
    cu_rows = sorted(k for u in units for k in cu.rows.get(u, ()))  # in layer order
    rl_rows = sorted(k for r in reds for k in rl.rows.get(r, ()))
    table = run.result.table
    cols = [c for c in ("project_id", "name", "verdict") if c in table.columns]
    projects = {c: [_text(v) for v in table[c].tolist()] for c in cols}
    rows = list(range(len(table)))
    made = features(table.geometry.to_numpy(), projects, table.crs, rows, 0.0)
    return {
        "projects": {"type": "FeatureCollection", "features": made},
        "control_units": {
            "type": "FeatureCollection",
            "features": [cu.features[r] for r in cu_rows],
        },
        "redline": {"type": "FeatureCollection", "features": [rl.features[r] for r in rl_rows]},
    }


def _command(name: str, opts: Any, primary: str) -> str:
    """The command line that gives the same outputs (the page shows it)."""
    args = ["sxzones", name]
    for field, o in type(opts).opts():
        value = getattr(opts, field)
        default = type(opts).__dataclass_fields__[field].default
        if o.flag is None or field in ("out", "overwrite"):
            continue
        if value in (None, (), default) and not o.cli_required:  # --tech pv is still needed
            continue
        if field in ("rules",):
            continue
        flag = o.flag.split("/")[0]
        if field in ("project", "projects", "firms", "candidates", "dem"):
            value = Path(str(value)).name
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            args += [flag] if o.kind == "flag" else [flag, str(v)]
    return shlex.join([*args, "--out", "OUT"])


# ---- inspector: the firm screen ---------------------------------------------------------


def firm_columns(state: ServeState, upload: Upload) -> dict[str, Any]:
    """The columns of an uploaded firm list and the fields of role ``firms`` they can be
    mapped to (the page offers the mapping when a field is not found by its name)."""
    role = ROLES["firms"]
    with state.job(keep=False) as job:
        path = uploads.save_upload(upload[0], upload[1], job.folder / "in", state.limits)
        if path.suffix not in uploads.TABLES:
            return {"columns": [], "fields": []}
        uploads.check_limits(path, state.limits)  # an XLSX that is no workbook is refused
        try:
            columns = table_columns(path)  # as the screen will read it
        except (SxzonesError, ValueError, OSError, UnicodeDecodeError) as exc:
            raise uploads.UploadError(f"{path.name!r} cannot be read as a table ({exc})") from None
    wanted = [*([role.id_field] if role.id_field else []), *role.required, *role.optional]
    fields = [*dict.fromkeys(f for f in wanted if f), *COORDINATE_FIELDS]  # x, y: coordinates
    found = [f for f in fields if f in columns]
    from sxzones.layers.validate import usual_fields

    # read by the names agencies write (企业编号, 企业名称, 行业 ...), as the screen reads them
    found += [f for f in usual_fields(columns, role) if f in fields and f not in found]
    if coordinate_pair(columns) is not None:  # found by their names (经度/纬度 ...)
        found += [f for f in COORDINATE_FIELDS if f not in found]
    return {"columns": columns, "fields": fields, "found": found}


def firm_options(state: ServeState, form: dict[str, str], path: Path, out: Path) -> FirmOptions:
    """The options of ``sxzones firms`` for the page: the catalogue's built-up areas, the
    CRS, and ``--field CANONICAL=COLUMN`` for each column mapped on the page."""
    mapped = tuple(
        f"{k[len('field_') :]}={v}"
        for k, v in sorted(form.items())
        if k.startswith("field_") and v.strip()
    )
    return FirmOptions(
        firms=str(path),
        builtup=str(state.catalog.layer_of_role("builtup")),
        crs=form.get("crs") or None,
        layer=form.get("layer", "").strip() or None,
        fields=mapped,
        out=out,
        overwrite=True,
        rules=state.rules_path,
    )


def _records(frame: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    part = frame.head(n)
    return json.loads(part.to_json(orient="records", force_ascii=False))


def firms_job(state: ServeState, form: dict[str, str], upload: Upload | None) -> dict[str, Any]:
    """The firm screen of an uploaded list: counts by zone, the first rows of
    ``firm_zones.csv``, the rejects with their reasons, points for the map, downloads."""
    from sxzones.runs.firms import run_firms

    if upload is None or not upload[1]:
        raise uploads.UploadError("no firm list: choose a CSV or XLSX file")
    with state.job() as job:
        path = uploads.save_upload(upload[0], upload[1], job.folder / "in", state.limits)
        if path.suffix == ".zip":
            path = uploads.unpack(path, state.limits)
        uploads.check_limits(path, state.limits, form.get("layer", "").strip() or None)
        opts = firm_options(state, form, path, job.folder / "out")
        result = run_firms(opts, state.catalog)
        out = job.folder / "out"
        page_record(out, [path])
        table = _as_given(pd.read_csv(out / "firm_zones.csv", dtype=str, keep_default_na=False))
        rejects = _as_given(pd.read_csv(out / "rejects.csv", dtype=str, keep_default_na=False))
        counts = table["zone"].value_counts().to_dict() if "zone" in table else {}
        points, shown = _firm_points(out / "firm_zones.gpkg")
        return {
            "job": job.id,
            "summary": as_given(result.summary, [path]),
            "rows": len(table),
            "counts": counts,
            "table": _records(table, MAX_ROWS),
            "columns": list(table.columns),
            "rejects": _records(rejects, MAX_ROWS),
            "n_rejects": len(rejects),
            "map": points,
            "map_shown": shown,
            "downloads": downloads(job),
            "command": _command("firms", opts, str(path)),
        }


def _firm_points(path: Path) -> tuple[Any, dict[str, list[int]]]:
    """The firms for the page's map, in WGS84, at most :data:`MAX_POINTS`: every firm of the
    zones nearest a built-up area first (``inside``, then ``within_…``), ``beyond`` last; a
    zone that does not fit whole is evenly sampled (by feature id: the GeoPackage's rows in
    order, only those read). Returns the features and, when some firms are not drawn, per
    zone ``[drawn, firms]`` (the page says so beside the map); else an empty dict."""
    if not path.exists():
        return {"type": "FeatureCollection", "features": []}, {}
    n = int(pyogrio.read_info(path)["features"])
    columns = ["firm_id", "name", "zone", "distance_m"]
    if n <= MAX_POINTS:
        frame = pyogrio.read_dataframe(path, columns=columns)
        frame = frame.set_geometry(frame.geometry.representative_point())
        return _features(frame, columns), {}
    zones = pyogrio.read_dataframe(path, columns=["zone"], read_geometry=False)["zone"]
    zones = zones.astype(str).to_numpy()
    order = sorted(set(zones.tolist()), key=lambda z: (z == "beyond", z != "inside", z))
    budget, chosen, shown = MAX_POINTS, [], {}
    for z in order:
        rows = np.flatnonzero(zones == z)
        take = (
            rows if len(rows) <= budget else rows[np.linspace(0, len(rows) - 1, budget).astype(int)]
        )
        take = take if budget > 0 else rows[:0]
        chosen.append(take)
        shown[z] = [len(take), len(rows)]
        budget -= len(take)
    fids = np.sort(np.concatenate(chosen)) + 1
    frame = pyogrio.read_dataframe(path, columns=columns, fids=fids)
    frame = frame.set_geometry(frame.geometry.representative_point())
    return _features(frame, columns), shown


# ---- planner: the siting screen ---------------------------------------------------------


def _candidates(state: ServeState, form: dict[str, str], upload: Upload | None, job: Job) -> str:
    """The candidates: an uploaded file, or the catalogue's candidate layer; only the kinds
    ticked on the page (a subset is written to the job's folder)."""
    folder = job.folder / "in"
    kinds = [k for k in form.get("kinds", "").split(",") if k]
    if upload is not None and upload[1]:
        rs = state.ruleset
        listed = {k for r in rs.of_kind("siting_candidates") for k in r.params["candidate_kinds"]}
        if kinds and not set(kinds) >= listed:  # the ticks were ignored for a file: now said
            raise SxzonesError(
                "the candidate kinds ticked apply to the catalogue's candidate land; an "
                "uploaded file is screened whole. Fix: tick every kind, or keep only the "
                "wanted kinds in the file"
            )
        path = uploads.save_upload(upload[0], upload[1], folder, state.limits)
        if path.suffix == ".zip":
            path = uploads.unpack(path, state.limits)
        uploads.check_limits(path, state.limits, form.get("layer", "").strip() or None)
        return str(path)
    name = str(state.catalog.layer_of_role("candidates"))
    if not kinds:
        return name
    from sxzones.runs.siting import catalogue_candidates

    frame, _ = catalogue_candidates(state.catalog, name, state.ruleset)  # parts made one
    if set(kinds) >= set(frame["kind"].astype(str)):
        return name
    part = frame[frame["kind"].astype(str).isin(kinds)]
    if part.empty:
        raise SxzonesError(f"no candidate land of the kinds {kinds}")
    path = folder / "candidates.gpkg"
    write_gpkg(part.drop(columns=["source_row"], errors="ignore"), path, overwrite=True)
    return str(path)


def sites_job(
    state: ServeState, form: dict[str, str], upload: Upload | None, dem: Upload | None
) -> dict[str, Any]:
    """The siting screen for the page's technology, kinds, setbacks and slope limit."""
    from sxzones.runs.siting import run_sites

    tech = form.get("tech") or "pv"
    with state.job() as job:
        candidates = _candidates(state, form, upload, job)
        exclude = tuple(
            f"{k[len('setback_') :]}:{v.strip()}m"
            for k, v in sorted(form.items())
            if k.startswith("setback_") and v.strip()
        )
        dem_path = None
        if dem is not None and dem[1]:
            dem_path = uploads.save_upload(dem[0], dem[1], job.folder / "in", state.limits)
        opts = SiteOptions(
            candidates=candidates,
            tech=tech,
            crs=form.get("crs") or None,
            layer=(form.get("layer", "").strip() or None)
            if upload is not None and upload[1]
            else None,
            exclude=exclude,
            dem=str(dem_path) if dem_path else None,
            out=job.folder / "out",
            overwrite=True,
            max_slope=form.get("slope", "").strip() or None,  # as --max-slope: in the command
            rules=state.rules_path,
        )
        result = run_sites(opts, state.catalog)
        out = job.folder / "out"
        kept = _uploads(job, Path(candidates), dem_path)
        page_record(out, kept)
        doc = json.loads((out / "siting.json").read_text(encoding="utf-8"))
        eligible = pyogrio.read_dataframe(out / "eligible_sites.gpkg", layer="eligible_sites")
        table = pd.read_csv(out / "eligible_sites.csv", dtype=str, keep_default_na=False)
        doc.pop("candidates", None)
        return {
            "job": job.id,
            "summary": as_given(result.summary, kept),
            "document": doc,
            "table": _records(table, MAX_ROWS),
            "columns": list(table.columns),
            "map": _features(
                eligible, ["site_id", "kind", "eligible_m2", "capacity_mw", "main_reason"], 5.0
            ),
            "downloads": downloads(job),
            "command": _command("sites", opts, candidates),
        }
