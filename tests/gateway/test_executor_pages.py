"""Pages of one answer whose types differ: a column widened to unsigned 64-bit ids stays ids.

A first page whose id column is all NULL comes back untyped (text); a later page brings ids
above 2**63. The concatenated column is described as a ``uint64`` id, so the result is
written as the exact decimal text, which astropy reads back.
"""

from __future__ import annotations

import io

import pyarrow as pa
from astropy.io.votable import parse_single_table

from gateway.federation.executor import _concatenate
from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.formats.decode_votable import Decoded
from gateway.formats.votable import write_votable
from gateway.settings import BackendConfig
from planners.base import BackendRequest

IDS = [2**64 - 1, 2**63 + 7, 5]


def _page(column: pa.Array) -> Decoded:
    table = pa.table({"specobjid": column})
    return Decoded(tuple(column_meta_from_arrow(f) for f in table.schema), table)


def test_a_column_widened_to_unsigned_ids_is_written_exactly() -> None:
    config = BackendConfig(name="spec", kind="spectral", url="http://127.0.0.1:9/")
    request = BackendRequest("GET", "http://127.0.0.1:9/q")
    pages = [_page(pa.array([None, None], pa.null())), _page(pa.array(IDS, pa.uint64()))]
    table, columns = _concatenate(config, request, pages)
    assert table.schema.field("specobjid").type == pa.uint64()
    assert (columns[0].datatype, columns[0].xtype) == ("long", "uint64")
    document = b"".join(write_votable(columns, table.to_batches()))
    field = parse_single_table(io.BytesIO(document)).to_table()["specobjid"]
    assert [None if v == "" else int(v) for v in field.tolist()] == [None, None, *IDS]
