import pytest

from grammar.nodes import (
    ColumnReference,
    DerivedColumn,
    Query,
    SelectQuery,
    TableName,
    TableReference,
)
from grammar.parser import parse
from grammar.printer import to_adql
from grammar.printer_values import identifier, is_regular, name_identifier


@pytest.mark.parametrize(
    ("name", "regular"),
    [
        ("ra", True),
        ("gMag_err2", True),
        ("size", False),  # reserved in ADQL
        ("DISTANCE", False),
        ("_hidden", False),
        ("2mass", False),
        ("a b", False),
        ('a"b', False),
        ("é", False),
    ],
)
def test_regular_names(name: str, regular: bool) -> None:
    assert is_regular(name) is regular
    assert name_identifier(name).delimited is not regular


@pytest.mark.parametrize("name", ["ra", "size", "_hidden", "a b", 'we"ird', "Mag", "select"])
def test_the_printed_name_parses_back_to_the_same_column(name: str) -> None:
    column = ColumnReference(name_identifier(name))
    table = TableName((name_identifier("t"),))
    query = Query(SelectQuery((DerivedColumn(column),), (TableReference(table),)))
    parsed = parse(to_adql(query)).body
    assert isinstance(parsed, SelectQuery)
    item = parsed.items[0]
    assert isinstance(item, DerivedColumn)
    assert isinstance(item.expression, ColumnReference)
    assert item.expression.name.name == name
    assert identifier(item.expression.name) == identifier(name_identifier(name))
