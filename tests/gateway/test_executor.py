"""The executor against the real stand-ins (HSC, SIA, spectral) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest

from gateway.errors import BackendError
from gateway.federation.executor import Executor, ExecutorOptions, FetchedTable
from gateway.federation.retry import RetryPolicy
from gateway.settings import BackendConfig
from planners.base import BackendRequest, Paging
from planners.hsc_tables import load_columns
from planners.spectral import COLUMNS as SPEC_COLUMNS
from standins.data import DemoData, ensure_demo_data
from standins.hsc import create_hsc_app
from standins.sia import create_sia_app
from standins.spectral import create_spectral_app
from tests.live_server import serve_app

pytestmark = pytest.mark.integration

HSC_COLUMNS = load_columns("hsc_v3_summary_magaper2")
OPTIONS = ExecutorOptions(retry=RetryPolicy(attempts=2, base_delay=0.05, max_total=30.0))


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@pytest.fixture(scope="module")
def urls(demo: DemoData) -> Iterator[dict[str, str]]:
    with (
        serve_app(create_hsc_app(demo)) as hsc,
        serve_app(create_sia_app(demo)) as sia,
        serve_app(create_spectral_app(demo)) as spec,
    ):
        yield {"hsc": hsc + "/api/v0.1/hsc", "sia": sia, "spec": spec + "/spec"}


def configs(urls: dict[str, str]) -> list[BackendConfig]:
    kinds = {"hsc": "hsc", "sia": "sia", "spec": "spectral"}
    return [
        BackendConfig(name=name, kind=kinds[name], url=url, timeout_seconds=30, max_concurrency=4)
        for name, url in urls.items()
    ]


def hsc_cone(
    urls: dict[str, str], radius: float, pagesize: int, fmt: str = "csv"
) -> BackendRequest:
    params = (
        ("ra", "53.2"), ("dec", "-28.1"), ("radius", str(radius)),
        ("pagesize", str(pagesize)), ("page", "1"),
    )  # fmt: skip
    url = f"{urls['hsc']}/v3/summary/magaper2.{fmt}"
    return BackendRequest(
        "GET", url, params, response_format=fmt, paging=Paging(1, pagesize, may_overflow=True)
    )


def test_hsc_paging_equals_one_big_page(urls: dict[str, str]) -> None:
    async def main() -> tuple[FetchedTable, FetchedTable]:
        async with Executor(configs(urls), OPTIONS) as ex:
            whole = await ex.fetch("hsc", hsc_cone(urls, 0.2, 100_000), expected=HSC_COLUMNS)
            paged = await ex.fetch("hsc", hsc_cone(urls, 0.2, 250), expected=HSC_COLUMNS)
            return whole, paged

    whole, paged = asyncio.run(main())
    assert whole.pages == 1
    assert whole.num_rows > 1000
    assert paged.pages == math.floor(whole.num_rows / 250) + 1
    assert paged.table.equals(whole.table)
    assert paged.columns == whole.columns
    assert not paged.overflow


def test_hsc_formats_agree_through_the_executor(urls: dict[str, str]) -> None:
    async def main() -> list[FetchedTable]:
        async with Executor(configs(urls), OPTIONS) as ex:
            requests = [hsc_cone(urls, 0.05, 50_000, fmt) for fmt in ("csv", "json", "votable")]
            return list(
                await asyncio.gather(*(ex.fetch("hsc", r, expected=HSC_COLUMNS) for r in requests))
            )

    csv, js, vot = asyncio.run(main())
    assert csv.num_rows == js.num_rows == vot.num_rows > 0
    ids = csv.table.column("MatchID").to_pylist()
    assert js.table.column("MatchID").to_pylist() == ids
    assert vot.table.column("MatchID").to_pylist() == ids


def test_all_backends_at_once(urls: dict[str, str]) -> None:
    sia = BackendRequest(
        "GET",
        f"{urls['sia']}/query",
        (("POS", "CIRCLE 53.2 -28.1 0.5"),),
        response_format="votable",
    )
    query = BackendRequest(
        "GET",
        f"{urls['spec']}/query",
        (("fields", "specobjid,ra,dec,z"), ("ra", "53.2"), ("dec", "-28.1"), ("radius", "0.5")),
    )

    async def main() -> tuple[FetchedTable, FetchedTable, FetchedTable, FetchedTable]:
        async with Executor(configs(urls), OPTIONS) as ex:
            hsc, images, spectra = await asyncio.gather(
                ex.fetch("hsc", hsc_cone(urls, 0.05, 50_000), run_id="r1"),
                ex.fetch("sia", sia, run_id="r1"),
                ex.fetch("spec", query, run_id="r1", expected=SPEC_COLUMNS),
            )
            ids = spectra.table.column("specobjid").to_pylist()[:2]
            form = f"id_list=%5B{ids[0]}%2C+{ids[1]}%5D&values=flux%2Cloglam&align=True".encode()
            get_spec = BackendRequest(
                "POST", f"{urls['spec']}/getSpec", body=form, response_format="npy"
            )
            return hsc, images, spectra, await ex.fetch("spec", get_spec)

    hsc, images, spectra, block = asyncio.run(main())
    assert hsc.num_rows > 0
    assert images.num_rows > 0
    assert "s_region" in images.table.column_names
    assert spectra.num_rows > 0
    assert str(spectra.table.schema.field("specobjid").type) == "uint64"
    assert block.num_rows == 2
    assert block.table.column_names == ["flux", "loglam"]


@pytest.mark.parametrize(
    ("name", "path", "params", "message"),
    [
        ("spec", "/query", (("catalog", "nope.table"),), "HTTP 400: Error: unknown catalog"),
        ("hsc", "/v3/summary/magaper2.csv", (("NoSuchColumn", "1"),), "HTTP 400: "),
        ("sia", "/query", (("BAND", "-2"),), "HTTP 400: UsageFault"),
    ],
)
def test_service_errors_are_reported_with_their_message(
    urls: dict[str, str], name: str, path: str, params: tuple[tuple[str, str], ...], message: str
) -> None:
    fmt = "votable" if name == "sia" else "csv"

    async def main() -> None:
        async with Executor(configs(urls), OPTIONS) as ex:
            request = BackendRequest("GET", urls[name] + path, params, response_format=fmt)
            with pytest.raises(BackendError) as info:
                await ex.fetch(name, request)
            assert info.value.backend == name
            assert not info.value.transient
            assert message in info.value.cause

    asyncio.run(main())


def test_unknown_backend_is_refused(urls: dict[str, str]) -> None:
    async def main() -> None:
        async with Executor(configs(urls), OPTIONS) as ex:
            with pytest.raises(KeyError, match="configured: hsc, sia, spec"):
                await ex.fetch("elsewhere", hsc_cone(urls, 0.05, 10))

    asyncio.run(main())
