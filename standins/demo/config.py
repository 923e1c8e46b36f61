"""Configuration files of ``adql-gateway demo``: the ``rsp`` TAP service and the federation.

The demo runs two gateway instances. ``rsp`` stands in for a Rubin-style TAP service: one
``local`` backend with ``dp1.Object`` and ``ivoa.ObsCore`` from the demo data, described by the
column metadata shipped in ``gateway/data/demo_columns.toml``. The main gateway federates
``hsc`` (HSC REST stand-in), ``rsp`` (over TAP), ``rsp_sia`` (SIAv2 stand-in, Rubin profile)
and ``spec`` (legacy spectral-ID stand-in, context ``sdss_dr16``). Both files are plain TOML
read by ``adql-gateway serve --config``; they are validated with
:func:`gateway.settings.load_settings` as soon as they are written.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from gateway.settings import ColumnOverride, load_settings
from standins.data import DemoData
from standins.data_rubin import DID_PREFIX

RSP_TABLES = ("dp1.Object", "ivoa.ObsCore")
"""Tables the ``rsp`` instance serves, exactly as clients name them."""

SPECTRAL_CONTEXT = "sdss_dr16"
"""Context of the ``spec`` backend (tables ``sdss_dr16.specobj`` and ``sdss_dr16.specobjall``)."""


@dataclass(frozen=True, slots=True)
class DemoPorts:
    """Loopback ports of every demo service.

    Parameters
    ----------
    main
        The federating gateway (the one clients use).
    hsc, sia, spectral
        The stand-in services.
    rsp
        The second gateway instance acting as the Rubin-style TAP service.
    """

    main: int
    hsc: int
    sia: int
    spectral: int
    rsp: int

    @property
    def tap_url(self) -> str:
        """TAP base URL of the federating gateway."""
        return f"http://127.0.0.1:{self.main}/tap"

    @property
    def sia_links_url(self) -> str:
        """DataLink ``{links}`` endpoint of the SIA stand-in, owner of the demo images."""
        return f"http://127.0.0.1:{self.sia}/datalink/links"

    def backend_urls(self) -> dict[str, str]:
        """Backend name to the URL the federation configuration gives it."""
        return {
            "hsc": f"http://127.0.0.1:{self.hsc}/api/v0.1/hsc",
            "rsp": f"http://127.0.0.1:{self.rsp}/tap",
            "rsp_sia": f"http://127.0.0.1:{self.sia}/query",
            "spec": f"http://127.0.0.1:{self.spectral}/spec",
        }


@dataclass(frozen=True, slots=True)
class Example:
    """A query the demo prints, known to return rows from the demo data."""

    title: str
    adql: str


EXAMPLES = (
    Example(
        "Rubin cone with magnitude cuts (rsp, over TAP)",
        "SELECT objectId, coord_ra, coord_dec, r_cModelMag, g_cModelMag FROM dp1.Object "
        "WHERE CONTAINS(POINT('ICRS', coord_ra, coord_dec), CIRCLE('ICRS', 53.2, -28.1, 0.1)) = 1 "
        "AND r_cModelMag < 24",
    ),
    Example(
        "Rubin deep coadds in r (rsp ObsCore)",
        "SELECT obs_id, s_ra, s_dec, lsst_band, lsst_patch, access_url FROM ivoa.ObsCore "
        "WHERE dataproduct_subtype = 'lsst.deep_coadd' AND lsst_band = 'r'",
    ),
    Example(
        "HSC cone (HSC REST stand-in)",
        "SELECT TOP 100 MatchID, MatchRA, MatchDec, CI, NumImages FROM hscv3.summary "
        "WHERE CONTAINS(POINT('ICRS', MatchRA, MatchDec), CIRCLE('ICRS', 53.2, -28.1, 0.05)) = 1",
    ),
    Example(
        "HSC sources with SDSS-like spectra in ECDFS (HSC x spectral cross-match)",
        "SELECT h.MatchID, h.MatchRA, h.MatchDec, s.ra, s.dec, s.z, s.class "
        "FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
        "ON CONTAINS(POINT('ICRS', h.MatchRA, h.MatchDec), "
        "CIRCLE('ICRS', s.ra, s.dec, 1.0 / 3600)) = 1 "
        "WHERE CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 53.2, -28.1, 0.1)) = 1",
    ),
    Example(
        "Images covering a position (SIAv2 stand-in as rsp_sia.obscore)",
        "SELECT obs_id, dataproduct_subtype, lsst_band, t_min FROM rsp_sia.obscore "
        "WHERE INTERSECTS(s_region, CIRCLE('ICRS', 53.2, -28.1, 0.01)) = 1 AND calib_level = 3",
    ),
)
"""Seed queries printed by ``adql-gateway demo``."""


def column_metadata() -> dict[str, tuple[str | None, dict[str, dict[str, Any]]]]:
    """The shipped metadata of the ``rsp`` tables.

    Returns
    -------
    dict
        Table name to ``(description, {column: sidecar values})``; band templates are expanded
        and every sidecar is checked against :class:`gateway.settings.ColumnOverride`.
    """
    text = resources.files("gateway").joinpath("data", "demo_columns.toml").read_text("utf-8")
    doc = tomllib.loads(text)
    band_ucd: dict[str, str] = doc.get("band_ucd", {})
    out: dict[str, tuple[str | None, dict[str, dict[str, Any]]]] = {}
    for table in doc["tables"]:
        columns: dict[str, dict[str, Any]] = dict(table.get("columns", {}))
        for band in table.get("bands", []):
            words = {"band": band, "em": band_ucd[band]}
            for name, template in table.get("band_columns", {}).items():
                columns[name.format(**words)] = {
                    key: value.format(**words) if isinstance(value, str) else value
                    for key, value in template.items()
                }
        for values in columns.values():
            ColumnOverride.model_validate(values)
        out[table["name"]] = (table.get("description"), columns)
    return out


def rsp_config(
    data: DemoData, port: int, run_dir: Path, sia_links_url: str | None = None
) -> dict[str, Any]:
    """The ``rsp`` instance's configuration as a TOML document (a mapping).

    Parameters
    ----------
    data
        The demo data; the tables of :data:`RSP_TABLES` must have files.
    port
        Loopback port the instance listens on.
    run_dir
        Directory of this demo run; the instance keeps its jobs in ``rsp-jobs`` there.
    sia_links_url
        The SIA stand-in's DataLink endpoint: the ObsCore rows' ``access_url`` then lead
        there through this instance's own ``/datalink/links``.
    """
    files = data.tables()
    metadata = column_metadata()
    tables = []
    for name in RSP_TABLES:
        description, columns = metadata[name]
        tables.append(
            {"name": name, "path": files[name], "description": description, "columns": columns}
        )
    return {
        "service": {
            "base_url": f"http://127.0.0.1:{port}/tap",
            "data_dir": run_dir / "rsp-jobs",
            "service_title": "rsp (demo Rubin-style TAP service)",
        },
        "backends": [{"name": "rsp", "kind": "local", "tables": tables} | _links(sia_links_url)],
    }


def _links(sia_links_url: str | None) -> dict[str, str]:
    """Backend settings that route the demo's image IDs to the SIA stand-in's DataLink."""
    if sia_links_url is None:
        return {}
    # The demo data's access_url names Rubin's real service with made-up IDs; these route
    # the IDs to the stand-in that serves the images instead.
    return {"datalink_url": sia_links_url, "datalink_id_prefix": DID_PREFIX}


DEMO_HSC_ROWS = {"hscv3.summary": 1_112_940, "hscv3.summary_magauto": 1_112_940, "*": 200_332}
"""Rows of the demo's HSC tables (the largest of the others for ``*``)."""


def federation_config(ports: DemoPorts, run_dir: Path) -> dict[str, Any]:
    """The federating gateway's configuration as a TOML document (a mapping)."""
    urls = ports.backend_urls()
    return {
        "service": {
            "base_url": ports.tap_url,
            "data_dir": run_dir / "gateway-jobs",
            "service_title": "adql-gateway demo federation",
        },
        "backends": [
            # table_rows: the stand-ins' sizes, so that EXPLAIN states them and a query that
            # would fetch the 1.1 million-row HSC summary whole is refused (FETCH_WHOLE).
            {"name": "hsc", "kind": "hsc", "url": urls["hsc"], "table_rows": DEMO_HSC_ROWS},
            {"name": "rsp", "kind": "tap", "url": urls["rsp"]},
            {"name": "rsp_sia", "kind": "sia", "url": urls["rsp_sia"], "sia_profile": "rubin"}
            | _links(ports.sia_links_url),
            {"name": "spec", "kind": "spectral", "url": urls["spec"], "context": SPECTRAL_CONTEXT}
            | {"table_rows": {"*": 10_000}},
        ],
    }


def write_config(path: Path, doc: Mapping[str, Any]) -> Path:
    """Write ``doc`` as TOML to ``path`` and check that the gateway accepts it.

    Raises
    ------
    ValueError
        When the settings reject the file (pydantic's ``ValidationError`` is a ``ValueError``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_toml(doc), encoding="utf-8")
    load_settings(path)
    return path


def dump_toml(doc: Mapping[str, Any]) -> str:
    """Serialise a mapping of TOML values (strings, numbers, booleans, paths, lists, tables).

    Keys whose value is None are left out. Lists of mappings become arrays of tables.
    """
    lines: list[str] = []
    _emit_table(doc, (), lines, array=False)
    return "\n".join(lines).lstrip("\n") + "\n"


def _emit_table(
    table: Mapping[str, Any], path: tuple[str, ...], lines: list[str], *, array: bool
) -> None:
    subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    arrays = {k: v for k, v in table.items() if _is_table_array(v)}
    if path:
        dotted = ".".join(_key(part) for part in path)
        lines.extend(["", f"[[{dotted}]]" if array else f"[{dotted}]"])
    for key, value in table.items():
        if value is not None and key not in subtables and key not in arrays:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in subtables.items():
        _emit_table(value, (*path, key), lines, array=False)
    for key, items in arrays.items():
        for item in items:
            _emit_table(item, (*path, key), lines, array=True)


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = f"TOML value {value!r} is not finite"
            raise ValueError(msg)
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    msg = f"cannot write {type(value).__name__} as a TOML value"
    raise TypeError(msg)
