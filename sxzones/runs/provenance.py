"""Where a run's layers came from, in its tables: one source per layer (the site check's
``site_check.json`` ``layers`` and report table, the firm screen's and the equipment screen's
sources sheet and GeoPackage metadata), and the warning a demonstration layer carries.

The house rule: a layer derived by a script (``status = "demonstration"`` in the catalogue)
is never presented as real data; every table that leaves the folder says so itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sxzones.i18n import Labels, Lang, sheet_name, text_pairs, translate_frame, translate_value
from sxzones.layers import LayerReport
from sxzones.rules import RuleSet

__all__ = [
    "LAYER_CAVEATS",
    "SOURCE_COLUMNS",
    "demonstration_layers",
    "demonstration_lines",
    "demonstration_warning",
    "gpkg_metadata",
    "layer_source",
    "sources_sheet",
    "sources_table",
    "with_sources",
]

#: Notes of a layer that bear on every answer drawn from it: a datum shift to CGCS2000 that
#: is approximated (Xi'an 1980, Beijing 1954: tens of metres), areas whose parts share an id.
LAYER_CAVEATS = frozenset({"datum_shift_approximate", "id_parts"})

#: The columns of the sources sheet, in order (:func:`sources_table`).
SOURCE_COLUMNS = [
    "role",
    "layer",
    "status",
    "source",
    "version",
    "date",
    "licence",
    "features",
    "sha256",
    "files",
    "notes",
    "caveats",
]


def layer_source(name: str, rep: LayerReport) -> dict[str, Any]:
    """The provenance of layer ``name`` as a run used it: features loaded, source, version,
    status (``official``, ``public``, ``demonstration``; ``own`` for a file without a
    catalogue entry), licence and, when validation noted one, its ``caveats``
    (:data:`LAYER_CAVEATS`: an approximate datum shift, parts sharing an id)."""
    p = rep.provenance
    out: dict[str, Any] = {
        "layer": name,
        "features": rep.n_loaded,
        "source": p.source if p else "",
        "version": p.version if p else "",
        "status": p.status if p else "own",
        "licence": p.licence if p else "",
    }
    caveats = [f.message for f in rep.findings if f.code in LAYER_CAVEATS]
    if caveats:
        out["caveats"] = caveats
    return out


def _digest(inputs: Sequence[Mapping[str, Any]], role: str, name: str) -> dict[str, str]:
    """The ``sha256`` and ``files`` cells of input ``name`` of ``role`` as the manifest
    records it ("" when none): a file's SHA-256; for a layer of several files (a shapefile
    with its ``.dbf``, ``.prj`` ...; a File Geodatabase) the SHA-256 of their list
    (``sha256_of_files``) and each file's name and SHA-256, ``; ``-joined."""
    found = (e for e in inputs if e.get("role") == role and e.get("name") == name)
    entry = next(found, {})
    if "files" not in entry:
        return {"sha256": str(entry.get("sha256") or ""), "files": ""}
    parts = [f"{Path(f['file']).name} {f['sha256']}" for f in entry["files"]]
    return {"sha256": str(entry.get("sha256_of_files") or ""), "files": "; ".join(parts)}


def sources_table(
    reports: Sequence[LayerReport], rules: RuleSet, inputs: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per layer a run read (:func:`layer_source`, with the catalogue's date and
    notes and the file's SHA-256 from the manifest's ``inputs``; a layer of several files:
    the SHA-256 of their list and, in ``files``, each file's), then the rules file (the
    plan it encodes, its date of issue, its SHA-256). Columns :data:`SOURCE_COLUMNS`,
    canonical values (:func:`sources_sheet` translates them)."""
    rows = []
    for rep in reports:
        src = layer_source(rep.name, rep)
        p = rep.provenance
        rows.append(
            src
            | {
                "role": rep.role,
                "date": p.date if p else "",
                **_digest(inputs, rep.role, rep.name),
                "notes": p.notes if p else "",
                "caveats": "; ".join(src.get("caveats", [])),
            }
        )
    doc = rules.document
    issued = doc.get("issued", "")
    rows.append(
        {
            "role": "rules",
            "layer": rules.path.name,
            "status": "",
            "source": " ".join(str(doc.get(k) or "") for k in ("id", "title_zh")).strip(),
            "version": issued.isoformat() if hasattr(issued, "isoformat") else str(issued),
            **_digest(inputs, "rules", rules.path.name),
            "notes": str(doc.get("title_en") or ""),
        }
    )
    table = pd.DataFrame(rows).reindex(columns=SOURCE_COLUMNS)
    table["features"] = table["features"].astype("Int64")
    return table.fillna({c: "" for c in SOURCE_COLUMNS if c != "features"})


def demonstration_layers(table: pd.DataFrame) -> list[tuple[str, str]]:
    """(layer, role) of the demonstration layers in a :func:`sources_table`, in order."""
    demo = table[table["status"] == "demonstration"]
    return list(zip(demo["layer"].astype(str), demo["role"].astype(str), strict=True))


def demonstration_lines(
    table: pd.DataFrame, lang: Lang = "en", lab: Labels | None = None
) -> list[str]:
    """The warning a workbook's summary sheet carries first when a layer used is a
    demonstration layer (none otherwise): in Chinese (``zh``), English (``en``) or both,
    naming each layer and its role.

    Examples
    --------
    >>> t = pd.DataFrame({"layer": ["b_demonstration", "firms"], "role": ["builtup", "firms"],
    ...                   "status": ["demonstration", "public"]})
    >>> demonstration_lines(t, "en")
    ['Demonstration layer, not official data: b_demonstration (builtup). Derived by a script; see the sources sheet.']
    >>> demonstration_lines(t, "zh")
    ['示范图层，非官方数据：b_demonstration（建成区）。由脚本推导，详见“数据来源”表。']
    """
    found = demonstration_layers(table)
    if not found:
        return []
    texts = text_pairs()
    key = "demonstration_line" if len(found) == 1 else "demonstration_lines"
    zh_t, en_t = texts[key]
    zh_sheet = sheet_name("sources", "zh", lab=lab)
    zh = zh_t.format(
        layers="、".join(f"{n}（{translate_value(r, 'role', 'zh', lab=lab)}）" for n, r in found),
        sheet=zh_sheet,
    )
    en = en_t.format(layers=", ".join(f"{n} ({r})" for n, r in found), sheet="sources")
    return [en] if lang == "en" else [zh] if lang == "zh" else [zh, en]


def demonstration_warning(table: pd.DataFrame) -> list[str]:
    """The line of a run's printed summary that names the demonstration layers it used
    (none when it used none).

    >>> t = pd.DataFrame({"layer": ["b_demonstration"], "role": ["builtup"],
    ...                   "status": ["demonstration"]})
    >>> demonstration_warning(t)
    ['warning: demonstration layer, not official data (derived by a script): b_demonstration (builtup)']
    """
    found = demonstration_layers(table)
    if not found:
        return []
    what = "layer" if len(found) == 1 else "layers"
    named = ", ".join(f"{n} ({r})" for n, r in found)
    return [f"warning: demonstration {what}, not official data (derived by a script): {named}"]


def sources_sheet(
    table: pd.DataFrame, lang: Lang = "en", lab: Labels | None = None
) -> tuple[str, pd.DataFrame]:
    """The sources sheet's name and table in ``lang`` (``sources``, ``数据来源``, ``数据来源
    (sources)``; headers and the role and status values by :mod:`sxzones.i18n`)."""
    frame = translate_frame(table, lang, lab=lab, vocabulary={"status": "provenance"})
    return sheet_name("sources", lang, lab=lab), frame


def with_sources(
    sheets: dict[str, pd.DataFrame],
    table: pd.DataFrame | None,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> dict[str, list[str]]:
    """Add the sources sheet of ``table`` to a workbook's ``sheets`` (named in ``lang``,
    last), and return the lines its summary sheet carries first (``write_xlsx``'s
    ``leads``: a demonstration layer's warning; none without ``table``)."""
    if table is None:
        return {}
    title, frame = sources_sheet(table, lang, lab)
    sheets[title] = frame
    lines = demonstration_lines(table, lang, lab)
    return {sheet_name("summary", lang, lab=lab): lines} if lines else {}


def gpkg_metadata(table: pd.DataFrame) -> dict[str, str]:
    """A GeoPackage layer's metadata items of a :func:`sources_table`: ``DESCRIPTION``
    (``gpkg_contents.description``: the demonstration warning, or the sources in one line),
    ``sxzones_sources`` (the table as JSON, canonical names and values) and, when any layer
    is a demonstration layer, ``sxzones_demonstration`` (their names, ``;``-joined; GDAL
    keeps no empty item)."""
    lines = demonstration_lines(table, "en")
    layers = [r for r in table.to_dict("records") if r["role"] != "rules"]
    described = "; ".join(f"{r['layer']} ({r['role']}, {r['status']})" for r in layers)
    rows = [
        {k: (None if pd.isna(v) else int(v) if k == "features" else v) for k, v in r.items()}
        for r in table.to_dict("records")
    ]
    meta = {
        "DESCRIPTION": lines[0] if lines else f"Sources: {described}",
        "sxzones_sources": json.dumps(rows, ensure_ascii=False, sort_keys=True),
    }
    if demo := demonstration_layers(table):
        meta["sxzones_demonstration"] = ";".join(n for n, _ in demo)
    return meta
