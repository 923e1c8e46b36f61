"""The backend-kind registry: kinds are found by name, checked, and a new one is a plugin.

A kind defined outside the gateway (here, in this test module) registers itself by being
subclassed; the settings then accept it, the catalogue reads its tables through it and the
federation plans over it, with no edit anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError
from typing_extensions import override

from gateway.federation.service import FederatedQueryService
from gateway.kinds.registry import BackendKind, KindLoad, all_kinds, kind_for, kind_names
from gateway.settings import BackendConfig, GatewaySettings
from gateway.table_meta import TableMeta
from grammar import parse
from planners.base import Capability
from planners.scs import ScsPlanner
from planners.sql_catalog import ColumnInfo

if TYPE_CHECKING:
    import httpx


class _StaticConeKind(BackendKind):
    """A made-up cone service whose one table is known without asking it."""

    name = "static_cone_test"
    capabilities = Capability.FILTER | Capability.CONE

    @override
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        del client
        assert config.url is not None
        columns = (ColumnInfo("ra", "double", ucd="pos.eq.ra;meta.main"),
                   ColumnInfo("dec", "double", ucd="pos.eq.dec;meta.main"))  # fmt: skip
        planner = ScsPlanner(config.name, config.url, "t", columns, "ra", "dec")
        meta = TableMeta(
            config.name,
            planner.table_name,
            None,
            tuple(ColumnInfo(c.name, "double") for c in columns),
        )
        return KindLoad((meta,), "static", planner)


def test_the_built_in_kinds_are_registered() -> None:
    assert {"hsc", "tap", "sia", "spectral", "local", "scs", "ssap"} <= set(kind_names())
    assert [k.name for k in all_kinds()] == sorted(kind_names())
    assert kind_for("tap").runid_parameter
    assert not kind_for("local").remote


def test_an_unknown_kind_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown backend kind 'sqs'.*scs"):
        BackendConfig(name="x", kind="sqs", url="http://127.0.0.1:1/")


def test_each_kind_checks_its_own_configuration() -> None:
    with pytest.raises(ValidationError, match="needs at least one"):
        BackendConfig(name="x", kind="local")
    with pytest.raises(ValidationError, match="of kind scs needs a url"):
        BackendConfig(name="x", kind="scs")


def test_a_plugin_kind_is_served_without_other_changes(tmp_path: Path) -> None:
    config = BackendConfig(name="plug", kind="static_cone_test", url="http://127.0.0.1:1/cone")
    service = FederatedQueryService(GatewaySettings(data_dir=tmp_path, backends=[config]))
    [status] = service.catalog.statuses()
    assert (status.kind, status.state) == ("static_cone_test", "ok")
    assert [t.meta.table_name for t in service.catalog.tables()] == ["plug.t"]
    where = "1 = CONTAINS(POINT(ra, dec), CIRCLE(10, 20, 0.5))"
    plan = service.plan(parse(f"SELECT * FROM plug.t WHERE {where}"))
    assert plan.fragment is not None
    [request] = plan.fragment.requests
    assert (request.url, dict(request.params)["RA"]) == ("http://127.0.0.1:1/cone", "10.0")


def test_planners_take_no_more_than_their_kind_declares() -> None:
    """A kind's declared flags bound its planners' (a TAP service may lack uploads)."""
    checked = 0
    for kind in (k for k in all_kinds() if k.remote):
        public = kind.public_backend()
        config = public or BackendConfig(name="b", kind=kind.name, url="http://127.0.0.1:1/x")
        planner = kind.planner(config)
        if planner is not None:
            assert planner.capabilities & ~kind.capabilities == Capability.NONE, kind.name
            assert planner.kind == kind.name
            checked += 1
    assert checked >= 3  # hsc, sia, spectral build planners without the service
