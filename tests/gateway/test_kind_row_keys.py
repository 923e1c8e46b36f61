"""Row keys are declared by the backend kinds and used by the federation's bind joins."""

from gateway.federation.run import _key_column
from gateway.kinds.registry import all_kinds, kind_for
from planners.hsc_tables import TABLES
from planners.sia_obscore import OBSCORE_COLUMNS
from planners.spectral import COLUMNS as SPECTRAL_COLUMNS
from planners.sql_catalog import ColumnInfo


def test_each_kind_declares_keys_its_own_tables_have() -> None:
    hsc_names = {c.name for t in TABLES.values() for c in t.columns}
    assert kind_for("hsc").row_keys
    assert set(kind_for("hsc").row_keys) <= hsc_names
    assert set(kind_for("spectral").row_keys) <= {c.name for c in SPECTRAL_COLUMNS}
    assert set(kind_for("sia").row_keys) <= {c.name for c in OBSCORE_COLUMNS}
    assert "MatchID" in kind_for("hsc").row_keys
    assert kind_for("local").row_keys == ()


def test_row_keys_are_tuples_of_names() -> None:
    for kind in all_kinds():
        assert isinstance(kind.row_keys, tuple)
        assert all(isinstance(k, str) and k for k in kind.row_keys)


def test_the_declared_ucd_wins_over_the_kind() -> None:
    columns = (ColumnInfo("MatchID", "long"), ColumnInfo("id", "long", ucd="meta.id;meta.main"))
    assert _key_column(columns, kind_for("hsc").row_keys) == "id"


def test_a_kind_key_counts_only_for_its_own_kind() -> None:
    columns = (ColumnInfo("ra", "double"), ColumnInfo("MatchID", "long"))
    assert _key_column(columns, kind_for("hsc").row_keys) == "MatchID"
    assert _key_column(columns, kind_for("spectral").row_keys) is None
    assert _key_column(columns, kind_for("local").row_keys) is None
