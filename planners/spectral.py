"""ADQL -> the legacy Data Lab spectral-ID service (spectro-ids.md A.4, A.6, part C).

Tables ``<context>.specobj`` and ``<context>.specobjall`` map to ``GET {base}/query`` with the
parameters the Data Lab client sends (``id``, ``fields``, ``catalog``, ``cond``, ``context``,
``profile``, ``debug``, ``verbose``). Pushed:

* ``CONTAINS(POINT(ra, dec), CIRCLE(...)) = 1`` -> ``q3c_radial_query(ra,dec,ra0,dec0,r)``
  and ``CONTAINS(POINT(ra, dec), POLYGON(...)) = 1`` -> ``q3c_poly_query(ra,dec,ARRAY[...])``
  in ``cond`` (numbers printed exactly, not with the client's ``%f``);
* any conjunct in the allow-listed subset of :mod:`planners.spectral_constraint`, including
  ``OR``, ``NOT`` and ``IS NULL`` (the service evaluates SQL);
* ``specobjid = n`` (unsigned) -> ``id=n`` (the service then ignores ``cond``, so every
  other conjunct stays residual);
* other ``specobjid`` comparisons with integer literals, rewritten for the service's signed
  column by :mod:`planners.spectral_ids` (ids are unsigned everywhere in the gateway);
* ORDER BY plain columns other than ``specobjid`` (the service sorts the signed values) and
  TOP -> `` order by ... limit n`` at the end of ``cond``;
* the select list -> ``fields`` (the service prepends ``specobjid`` when absent).

The 32-bit float columns are kept out of ``cond``: the service and SQL engines do not agree
on how to compare them with a literal.

Spectra: the service returns them from ``POST {base}/getSpec`` for a list of ids, which are
only known once the ``/query`` answer has arrived. A query asks for spectra by calling the
UDF ``gw_spectrum(specobjid [, 'flux,loglam'])`` in its select list; the gateway runs the
fragment, then fetches the spectra with :meth:`SpectralPlanner.spectra_requests` (a
dependent fetch, like a bind join). The planner itself never guesses ids.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem
from grammar.suggestions import suggestion
from planners import predicates as p
from planners import spectral_constraint as sc
from planners.base import Applied, BackendRequest, Capability
from planners.specobjid import to_unsigned
from planners.spectral_ids import ID_COLUMN, to_signed_domain
from planners.sql_catalog import UINT64_XTYPE, ColumnInfo

DEFAULT_BASE_URL = "https://datalab.noirlab.edu/spec"
SPECTRUM_UDF = "gw_spectrum"
TABLES = ("specobj", "specobjall")
_DR7_OR_EARLIER = re.compile(r"sdss_dr[1-7]", re.IGNORECASE)
ALL_ROWS = "specobjid IS NOT NULL"
"""``cond`` when nothing is pushed: the service splices ``cond`` after ``WHERE`` (an empty
one fails, spectro-ids.md A.4), and the key column is never NULL, so this selects every row."""


def _col(name: str, datatype: str, unit: str | None = None, desc: str | None = None) -> ColumnInfo:
    return ColumnInfo(
        name, datatype, None if datatype != "char" else "*", unit=unit, description=desc
    )


COLUMNS = (
    ColumnInfo(
        ID_COLUMN,
        "long",
        xtype=UINT64_XTYPE,
        description="Spectrum id: the unsigned 64-bit number SDSS publishes (spectro-ids.md A.5)",
    ),
    _col("bestobjid", "long", desc="Photometric object id"),
    _col("ra", "double", "deg", "Right ascension (ICRS)"),
    _col("dec", "double", "deg", "Declination (ICRS)"),
    _col("z", "double", desc="Redshift"),
    _col("zerr", "double", desc="Redshift error"),
    _col("zwarning", "int", desc="Redshift warning flags"),
    _col("class", "char", desc="GALAXY, QSO or STAR"),
    _col("subclass", "char", desc="Spectral subclass"),
    _col("plate", "int", desc="Plate number"),
    _col("mjd", "int", "d", "MJD of the observation"),
    _col("fiberid", "int", desc="Fiber number"),
    _col("run2d", "char", desc="2D reduction version"),
    _col("run1d", "char", desc="1D reduction version"),
    _col("survey", "char", desc="sdss, boss, eboss, segue1, segue2"),
    _col("instrument", "char", desc="SDSS or BOSS spectrograph"),
    _col("specprimary", "short", desc="1 for the primary spectrum of an object"),
    _col("scienceprimary", "short", desc="1 for the best science spectrum"),
    _col("sn_median_all", "float", desc="Median signal to noise per pixel"),
    _col("veldisp", "float", "km/s", "Velocity dispersion"),
)
"""The SDSS spectrum table columns served for every context (specobj and specobjall)."""

_KINDS: dict[str, sc.Kind] = {
    c.name: ("str" if c.datatype == "char" else "num")
    for c in COLUMNS
    if c.name != ID_COLUMN and c.datatype != "float"
}
# After :func:`to_signed_domain`, specobjid only appears compared with signed literals.
_SIGNED_KINDS: dict[str, sc.Kind] = {**_KINDS, ID_COLUMN: "num"}
NULLABLE = frozenset({"veldisp"})
"""Columns that may hold NULL (DESC ordering on them is not pushed)."""
_SPELLING = {c.name.lower(): c.name for c in COLUMNS}


@dataclass(frozen=True, slots=True)
class SpecHandle:
    """One ``/query`` request in the making."""

    context: str
    table: str
    position: tuple[str, ...] = ()
    constraint: tuple[str, ...] = ()
    spec_id: int | None = None
    fields: tuple[str, ...] | None = None
    order: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None

    @property
    def catalog(self) -> str:
        """The ``catalog`` parameter: ``<context>.<table>``."""
        return f"{self.context}.{self.table}"

    def cond(self) -> str:
        """The ``cond`` text: positional clauses, constraints, then ORDER BY and LIMIT."""
        text = " AND ".join([*self.position, *self.constraint])
        if self.order:
            keys = ", ".join(f"{c} desc" if d else c for c, d in self.order)
            text = f"{text} order by {keys}".strip()
        if self.limit is not None:
            text = f"{text} limit {self.limit}".strip()
        return text


def _position(cond: n.SearchCondition) -> tuple[str, bool] | None:
    """The q3c clause of a positional conjunct, and whether it is exact (else residual too)."""
    circle = p.sky_circle(cond, COLUMNS)
    if circle is not None and (circle.lon.name, circle.lat.name) == ("ra", "dec"):
        args = ",".join(p.number_text(v) for v in (circle.ra, circle.dec, circle.radius))
        return f"q3c_radial_query(ra,dec,{args})", circle.exact
    polygon = p.sky_polygon(cond, COLUMNS)
    if polygon is not None and (polygon.lon.name, polygon.lat.name) == ("ra", "dec"):
        vertices = ",".join(p.number_text(v) for v in polygon.vertices)
        return f"q3c_poly_query(ra,dec,ARRAY[{vertices}])", True
    box = p.sky_box(cond, COLUMNS)
    if box is not None and (box.lon.name, box.lat.name) == ("ra", "dec"):
        # The polygon of the box's corners; the box stays residual so that q3c's edge
        # rounding never decides a row on the boundary.
        vertices = ",".join(p.number_text(v) for v in box.corners)
        return f"q3c_poly_query(ra,dec,ARRAY[{vertices}])", False
    return None


def _id_lookup(cond: n.SearchCondition) -> int | None:
    cmp = p.comparison(cond, COLUMNS)
    if cmp is None or cmp.column.name != "specobjid" or cmp.op != "=":
        return None
    value = cmp.value
    # The column is unsigned: a negative (database-signed) literal matches no row in ADQL, so
    # it is not rewritten to its unsigned twin, which would return a row.
    if not isinstance(value, int) or not 0 <= value < 1 << 64:
        return None
    return value


@dataclass(frozen=True, slots=True)
class SpectralPlanner:
    """The planner of one legacy spectral service; ``contexts`` are the served datasets."""

    backend: str = "spec"
    base_url: str = DEFAULT_BASE_URL
    contexts: tuple[str, ...] = ("sdss_dr16",)
    profile: str = "default"
    kind: str = "spectral"
    capabilities: Capability = field(
        default=Capability.PROJECTION
        | Capability.FILTER
        | Capability.CONE
        | Capability.LIMIT
        | Capability.ORDER
        | Capability.ID_LOOKUP
    )

    def __post_init__(self) -> None:
        """Refuse DR7-and-earlier contexts: their specobjid layout differs."""
        old = [c for c in self.contexts if _DR7_OR_EARLIER.fullmatch(c)]
        if old:
            msg = f"contexts {old} use the pre-DR8 specobjid layout, which is not supported"
            raise ValueError(msg)

    def table_names(self) -> tuple[str, ...]:
        """Every federated table this backend serves."""
        return tuple(f"{c}.{t}" for c in self.contexts for t in TABLES)

    def scan(self, table: n.TableName) -> SpecHandle:
        """A handle on ``<context>.specobj`` or ``<context>.specobjall``."""
        name = ".".join(part.key for part in table.parts[-2:])
        context, _, tab = name.rpartition(".")
        if context in self.contexts and tab in TABLES:
            return SpecHandle(context, tab)
        known = self.table_names()
        hint = suggestion(name, known, cutoff=0.5, list_known=True)
        written = ".".join(part.name for part in table.parts)
        problem = SemanticProblem(f"Unknown spectral table '{written}'{hint}", table.span)
        raise AdqlSemanticError([problem])

    def columns(self, h: SpecHandle) -> tuple[ColumnInfo, ...]:
        """The columns of the rows ``h`` returns (``specobjid`` first when projected)."""
        if h.fields is None:
            return COLUMNS
        return tuple(c for name in h.fields for c in COLUMNS if c.name == name)

    def apply_filter(
        self, h: SpecHandle, conjuncts: Sequence[n.SearchCondition]
    ) -> Applied[SpecHandle] | None:
        """Positions, allow-listed constraints, or an id lookup (see the module notes)."""
        if h.spec_id is not None:
            return None
        if not h.position and not h.constraint:
            for i, cond in enumerate(conjuncts):
                spec_id = _id_lookup(cond)
                if spec_id is not None:
                    rest = (*conjuncts[:i], *conjuncts[i + 1 :])
                    return Applied(replace(h, spec_id=spec_id), rest, guaranteed=not rest)
        position, constraint, residual = list(h.position), list(h.constraint), []
        for cond in conjuncts:
            clause = _position(cond)
            if clause is not None and clause[0] in position:
                residual.append(cond)  # a superset pushed in an earlier round
            elif clause is not None:
                position.append(clause[0])
                if not clause[1]:
                    residual.append(cond)
            elif (signed := to_signed_domain(cond)) is not None and sc.pushable(
                signed, _SIGNED_KINDS
            ):
                constraint.append(sc.render(signed, _SPELLING))
            else:
                residual.append(cond)
        if position == list(h.position) and constraint == list(h.constraint):
            return None
        handle = replace(h, position=tuple(position), constraint=tuple(constraint))
        return Applied(handle, tuple(residual), guaranteed=not residual)

    def apply_projection(self, h: SpecHandle, columns: Sequence[str]) -> Applied[SpecHandle] | None:
        """``fields=``; ``specobjid`` leads because the service prepends it anyway."""
        known = {c.name for c in COLUMNS}
        if not columns or not set(columns) <= known:
            return None
        fields = tuple(dict.fromkeys(["specobjid", *columns]))
        return None if fields == h.fields else Applied(replace(h, fields=fields))

    def apply_order(
        self, h: SpecHandle, items: Sequence[n.OrderItem]
    ) -> Applied[SpecHandle] | None:
        """`` order by c [desc], ...`` over plain columns (not with an id lookup)."""
        order = []
        for item in items:
            column = p.column_of(item.expression, COLUMNS)
            # ADQL puts NULL first when descending; the service's sort puts it last. The
            # service sorts specobjid as signed numbers, the gateway as unsigned ones.
            if (
                column is None
                or column.name == ID_COLUMN
                or (item.descending and column.name in NULLABLE)
            ):
                return None
            order.append((column.name, item.descending))
        if not order or h.spec_id is not None or tuple(order) == h.order:
            return None
        return Applied(replace(h, order=tuple(order)))

    def apply_limit(self, h: SpecHandle, n_rows: int) -> Applied[SpecHandle] | None:
        """`` limit n`` (not with an id lookup, which ignores ``cond``)."""
        if n_rows < 0 or h.spec_id is not None or h.limit == n_rows:
            return None
        return Applied(replace(h, limit=n_rows))

    def apply_semijoin(self, h: SpecHandle, upload: str, key: str) -> Applied[SpecHandle] | None:
        """The service takes no uploads."""
        del h, upload, key
        return None

    def render(self, h: SpecHandle) -> tuple[BackendRequest, ...]:
        """The ``GET /query`` request, parameters in the Data Lab client's order."""
        fields = h.fields or tuple(c.name for c in COLUMNS)
        params = (
            ("id", "" if h.spec_id is None else str(h.spec_id)),
            ("fields", ",".join(fields)),
            ("catalog", h.catalog),
            ("cond", "" if h.spec_id is not None else h.cond() or ALL_ROWS),
            ("context", h.context),
            ("profile", self.profile),
            ("debug", "False"),
            ("verbose", "False"),
        )
        url = f"{self.base_url.rstrip('/')}/query"
        return (BackendRequest("GET", url, params, response_format="csv"),)

    def spectra_requests(
        self,
        ids: Sequence[int],
        *,
        context: str | None = None,
        values: str = "all",
        align: bool = True,
        cutout: tuple[float, float] | None = None,
    ) -> tuple[BackendRequest, ...]:
        """``POST /getSpec`` form requests for the spectra of ``ids`` (``.npy`` answers).

        With ``align`` one request returns a 2-D block on a shared wavelength grid;
        without, one request per id (as the Data Lab client does).
        """
        groups = [list(ids)] if align else [[i] for i in ids]
        url = f"{self.base_url.rstrip('/')}/getSpec"
        out = []
        for group in groups:
            form = (
                ("id_list", "[" + ", ".join(str(to_unsigned(i)) for i in group) + "]"),
                ("values", values),
                ("format", "numpy"),
                ("align", str(align)),
                ("cutout", "" if cutout is None else f"{cutout[0]!r},{cutout[1]!r}"),
                ("w0", "None"),
                ("w1", "None"),
                ("context", context or self.contexts[0]),
                ("profile", self.profile),
                ("debug", "False"),
                ("verbose", "False"),
            )
            body = urllib.parse.urlencode(form).encode()
            out.append(BackendRequest("POST", url, (), body=body, response_format="npy"))
        return tuple(out)
