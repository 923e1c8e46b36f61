import duckdb
import pytest

from planners.sql_scope import quoted_sql


@pytest.mark.parametrize("name", ["ra", "Mag", "select", "a b", 'we"ird', "x.y", "__adql_src_1"])
def test_duckdb_reads_the_quoted_name_back_exactly(name: str) -> None:
    con = duckdb.connect()
    try:
        cursor = con.execute(f"SELECT 1 AS {quoted_sql(name)}")
        assert cursor.description is not None
        assert cursor.description[0][0] == name
    finally:
        con.close()


def test_other_dialects_use_their_own_quotes() -> None:
    assert quoted_sql('a"b', "postgres") == '"a""b"'
    assert quoted_sql("a`b", "mysql") == "`a``b`"
