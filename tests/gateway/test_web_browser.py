"""The query page in a real headless Chromium, against real gateways on 127.0.0.1.

Drives the page as a user would: the schema browser, a query typed and run (rows in the
table, points on the sky plot, sorting), a bad query (the error mark at the parser's line and
column), the plan (one box per backend), an async job followed to COMPLETED. Answers are
checked against numpy over the demo Parquet files and the test table, positions against the
parser, metadata against VOSI /tables read with ElementTree.

Chromium is Debian's (``tests/install_system_tools.sh``); Playwright drives it through its
bundled driver, never ``playwright install``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

import grammar
from standins.data import ensure_demo_data
from standins.demo.config import DemoPorts
from tests.gateway.conftest import TapService, angular_distance, cone_mask
from tests.gateway.federation_servers import serve_demo_gateway

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000
RENDERED = 2000  # rows the page turns into DOM rows (results.js RENDERED)

DP1_CONE = (
    "SELECT objectId, coord_ra, coord_dec, r_cModelMag FROM dp1.Object\n"
    "WHERE CONTAINS(POINT('ICRS', coord_ra, coord_dec), CIRCLE('ICRS', 53.2, -28.1, 0.1)) = 1\n"
    "  AND r_cModelMag < 24"
)
HSC_X_SPEC = (
    "SELECT h.MatchID, s.z FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s\n"
    "ON CONTAINS(POINT('ICRS', h.MatchRA, h.MatchDec), CIRCLE('ICRS', s.ra, s.dec, 1.0/3600)) = 1\n"
    "WHERE CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 53.2, -28.1, 0.1)) = 1"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run tests/install_system_tools.sh (Debian chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPorts]:
    with serve_demo_gateway(ensure_demo_data(), tmp_path_factory.mktemp("web-demo")) as ports:
        yield ports


@pytest.fixture
def page_errors() -> list[str]:
    return []


def open_page(browser: Browser, url: str, errors: list[str]) -> Page:
    """The page at ``url``, loaded (schema and examples fetched); JS exceptions collected."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The page's Content-Security-Policy must not block anything the page itself does.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def type_query(page: Page, query: str) -> None:
    page.fill("#query", query)


def submit(browser: Browser, url: str, errors: list[str], query: str, button: str) -> Page:
    """Open the page at ``url``, type ``query`` and press ``button`` (#run, #run-async...)."""
    page = open_page(browser, url, errors)
    type_query(page, query)
    page.click(button)
    return page


def dp1_oracle() -> dict[str, np.ndarray]:
    """The rows of DP1_CONE, computed with numpy over the demo's Parquet file."""
    table = pq.read_table(
        ensure_demo_data().tables()["dp1.Object"],
        columns=["objectId", "coord_ra", "coord_dec", "r_cModelMag"],
    )
    cols = {name: table.column(name).to_numpy() for name in table.column_names}
    mag = cols["r_cModelMag"]
    inside = angular_distance(cols["coord_ra"], cols["coord_dec"], 53.2, -28.1) <= 0.1
    keep = inside & (mag < 24)
    return {name: values[keep] for name, values in cols.items()}


def plotted_pixels(page: Page) -> int:
    """Pixels of the sky canvas that are neither background nor grid (drawn points)."""
    return int(
        page.evaluate(
            """() => {
              const c = document.getElementById('sky');
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 0; i < d.length; i += 4) if (d[i + 2] > d[i] + 60) n += 1;
              return n;
            }"""
        )
    )


def test_schema_browser_shows_tables_with_units_and_ucds(
    browser: Browser, demo: DemoPorts, page_errors: list[str]
) -> None:
    page = open_page(browser, demo.tap_url + "/", page_errors)
    tableset = ET.fromstring(httpx.get(f"{demo.tap_url}/tables", timeout=30).content)
    names = {t.findtext("name") for t in tableset.iter("table")}
    shown = set(page.eval_on_selector_all("details.table", "els => els.map(e => e.dataset.table)"))
    assert shown == names
    table = next(t for t in tableset.iter("table") if t.findtext("name") == "dp1.Object")
    column = next(c for c in table.iter("column") if c.findtext("name") == "coord_ra")
    page.fill("#schema-filter", "coord_ra")
    row = page.locator("details.table[data-table='dp1.Object'] tr[data-column='coord_ra']")
    expect(row).to_be_visible()
    expect(row.locator("td.unit")).to_have_text(column.findtext("unit") or "")
    expect(row.locator("td.ucd")).to_have_text(column.findtext("ucd") or "")
    assert (column.findtext("ucd") or "").startswith("pos.eq.ra")
    # Each schema names the backend serving it (DESIGN.md's fixed demo names); TAP_SCHEMA is
    # the gateway's own.
    badges = dict(
        page.eval_on_selector_all(
            "details.schema",
            "els => els.map(e => [e.dataset.schema, e.querySelector('.backend')?.dataset.backend ?? null])",
        )
    )
    assert badges == {
        "hscv3": "hsc", "hscv2": "hsc", "dp1": "rsp", "ivoa": "rsp", "rsp_sia": "rsp_sia",
        "sdss_dr16": "spec", "TAP_SCHEMA": None,
    }  # fmt: skip
    # A click on the table's "query" link writes a query for it.
    page.locator("details.table[data-table='dp1.Object'] summary button").click()
    assert "FROM dp1.Object" in page.input_value("#query")
    assert not page_errors


def test_query_shows_rows_sorting_and_sky_plot(
    browser: Browser, demo: DemoPorts, page_errors: list[str], tmp_path: Path
) -> None:
    oracle = dp1_oracle()
    n = len(oracle["objectId"])
    assert n > 0
    page = submit(browser, demo.tap_url + "/", page_errors, DP1_CONE, "#run")
    expect(page.locator("#status")).to_contain_text(f"{n} rows")
    assert page.locator("#results tbody tr").count() == min(n, RENDERED)
    # 64-bit ids arrive exact (JSON numbers beyond 2^53 are read as BigInt).
    ids = page.eval_on_selector_all(
        "#results tbody tr td:first-child", "tds => tds.map(t => t.textContent)"
    )
    assert set(ids) <= {str(v) for v in oracle["objectId"]}
    # The sky plot draws every position.
    assert page.get_attribute("#sky", "data-points") == str(n)
    assert plotted_pixels(page) > 50
    # Sorting by coord_dec, then descending.
    header = page.locator("#results th", has_text="coord_dec").locator("button")
    header.click()
    first = page.locator("#results tbody tr").first.locator("td").nth(2)
    assert float(first.inner_text()) == float(np.min(oracle["coord_dec"]))
    header.click()
    assert float(first.inner_text()) == float(np.max(oracle["coord_dec"]))
    page.screenshot(path=tmp_path / "results.png", full_page=True)
    assert not page_errors


def test_example_from_the_menu_runs_with_ctrl_enter(
    browser: Browser, demo: DemoPorts, page_errors: list[str]
) -> None:
    spectra = pq.read_table(
        ensure_demo_data().tables()["sdss_dr16.specobj"], columns=["ra", "dec", "z"]
    )
    ra, dec, z = (spectra.column(c).to_numpy() for c in ("ra", "dec", "z"))
    n = int(((z > 0.5) & (angular_distance(ra, dec, 53.2, -28.1) <= 0.2)).sum())
    assert 0 < n < 10_000  # under the page's MAXREC
    page = open_page(browser, demo.tap_url + "/", page_errors)
    page.select_option("#examples", label="Spectra at redshift above 0.5 in ECDFS")
    assert "FROM sdss_dr16.specobj" in page.input_value("#query")
    page.press("#query", "Control+Enter")
    expect(page.locator("#status")).to_contain_text(f"{n} rows")
    assert page.get_attribute("#sky", "data-points") == str(n)
    assert not page_errors


def test_bad_query_marks_the_parsers_line_and_column(
    browser: Browser, demo: DemoPorts, page_errors: list[str]
) -> None:
    bad = "SELECT TOP 10 ra, dec\nFROM sdss_dr16.specobj\nWHERE z > 0.5 AND AND dec < 0"
    with pytest.raises(grammar.AdqlSyntaxError) as raised:
        grammar.parse(bad)
    line, column = raised.value.line, raised.value.column
    assert line == 3
    page = open_page(browser, demo.tap_url + "/", page_errors)
    type_query(page, bad)
    message = page.locator(f"#syntax[data-line='{line}'][data-column='{column}']")
    expect(message).to_contain_text(f"Line {line}, column {column}")
    mark = page.locator("#error-mark")
    assert (mark.get_attribute("data-line"), mark.get_attribute("data-column")) == (
        str(line),
        str(column),
    )
    # The marked text is the token at that position in the query.
    offset = sum(len(s) + 1 for s in bad.split("\n")[: line - 1]) + column - 1
    assert bad[offset:].startswith(mark.inner_text())
    # Fixing the query clears the mark.
    type_query(page, bad.replace("AND AND", "AND"))
    expect(page.locator("#error-mark")).to_have_count(0)
    expect(page.locator("#syntax")).to_be_empty()
    # An error at the end of the text (past the last token) is marked there too.
    unfinished = "SELECT ra\nFROM sdss_dr16.specobj\nWHERE  \n"
    with pytest.raises(grammar.AdqlSyntaxError) as raised:
        grammar.parse(unfinished)
    end = raised.value
    type_query(page, unfinished)
    expect(
        page.locator(f"#error-mark[data-line='{end.line}'][data-column='{end.column}']")
    ).to_have_count(1)
    assert "\n" not in page.inner_text("#error-mark")
    assert not page_errors


def test_plan_draws_one_box_per_backend(
    browser: Browser, demo: DemoPorts, page_errors: list[str]
) -> None:
    page = submit(browser, demo.tap_url + "/", page_errors, HSC_X_SPEC, "#plan-btn")
    expect(page.locator("#plan")).to_be_visible()
    boxes = page.locator("#plan .box.backend")
    expect(boxes).to_have_count(2)
    backends = set(boxes.evaluate_all("els => els.map(e => e.dataset.backend)"))
    assert backends == {"hsc", "spec"}  # hscv3.summary on HSC REST, sdss_dr16.specobj on spec
    hsc = page.locator("#plan .box.backend[data-backend='hsc'] .url")
    expect(hsc).to_contain_text(f"127.0.0.1:{demo.hsc}/api/v0.1/hsc")
    expect(page.locator("#plan .box.gateway")).to_contain_text("JOIN")
    # What each service is asked to do, and how the sides depend on each other.
    spec = page.locator("#plan .box.backend[data-backend='spec']")
    expect(spec.locator("h3")).to_contain_text("sdss_dr16.specobj AS s")
    expect(spec.locator("ul.pushed")).to_contain_text("filter: CONTAINS(POINT('ICRS', ra, dec)")
    hsc_box = page.locator("#plan .box.backend[data-backend='hsc']")
    expect(hsc_box.locator("ul.notes")).to_contain_text("cross-match with s")
    assert not page_errors


def test_plan_of_an_unknown_table_marks_its_position(
    browser: Browser, demo: DemoPorts, page_errors: list[str]
) -> None:
    page = submit(
        browser, demo.tap_url + "/", page_errors, "SELECT x\nFROM nosuch.tab", "#plan-btn"
    )
    # The binder's position (line 2, column 6), shown like a syntax error.
    expect(page.locator("#syntax[data-line='2'][data-column='6']")).to_contain_text(
        "Unknown table 'nosuch.tab'"
    )
    expect(page.locator("#error-mark")).to_have_text("nosuch")
    # The syntax check (the text parses) must not clear it once it has run.
    page.wait_for_timeout(1000)
    expect(page.locator("#error-mark")).to_have_text("nosuch")
    assert not page_errors


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_async_job_reaches_completed_with_rows(
    browser: Browser, demo: DemoPorts, page_errors: list[str], host: str
) -> None:
    # The service's base_url says 127.0.0.1, so the 303 after POST /async points there. From a
    # page on localhost the browser refuses that cross-origin redirect; the page then finds
    # the job by its RUNID and follows it on its own origin.
    n = len(dp1_oracle()["objectId"])
    url = demo.tap_url.replace("127.0.0.1", host)
    page = submit(browser, url + "/", page_errors, DP1_CONE, "#run-async")
    expect(page.locator("#job-phase")).to_have_attribute("data-phase", "COMPLETED")
    expect(page.locator("#status")).to_contain_text(f"{n} rows")
    assert page.get_attribute("#sky", "data-points") == str(n)
    assert (page.get_attribute("#job h2 a", "href") or "").startswith(f"{url}/async/")
    # The one refusal expected (localhost only): the redirect to the job at the base_url's
    # host, which the page's Content-Security-Policy (own origin only) blocks.
    assert not [e for e in page_errors if f"{demo.tap_url}/async/" not in e]


def test_async_job_error_is_shown(
    browser: Browser, demo: DemoPorts, page_errors: list[str]
) -> None:
    page = submit(
        browser,
        demo.tap_url + "/",
        page_errors,
        "SELECT nosuchcolumn FROM dp1.Object",
        "#run-async",
    )
    expect(page.locator("#job-phase")).to_have_attribute("data-phase", "ERROR")
    expect(page.locator("#status")).to_contain_text("line 1, column 8")
    assert not page_errors


def test_page_on_a_local_tables_service(
    browser: Browser, tap_service: TapService, page_errors: list[str]
) -> None:
    stars = tap_service.stars
    expected = int(cone_mask(stars, 10.0, 10.0, 0.5).sum())
    root = tap_service.url.removesuffix("/tap")
    page = open_page(browser, root + "/", page_errors)  # "/" redirects to the page
    assert page.url == tap_service.url + "/"
    type_query(
        page,
        "SELECT id, ra, dec FROM demo.stars "
        "WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 10, 0.5)) = 1",
    )
    page.click("#run")
    expect(page.locator("#status")).to_contain_text(f"{expected} rows")
    assert page.get_attribute("#sky", "data-points") == str(expected)
    page.click("#plan-btn")
    expect(page.locator("#plan .box.gateway")).to_contain_text("local tables")
    expect(page.locator("#plan .box.backend")).to_have_count(0)
    assert not page_errors


def test_sky_plot_keeps_a_field_across_ra_zero_together(
    browser: Browser, tap_service: TapService, page_errors: list[str]
) -> None:
    stars = tap_service.stars
    inside = cone_mask(stars, 0.0, 0.0, 0.5)
    ra = stars.ra[inside]
    # The cone straddles RA 0.
    assert (ra < 1).any()
    assert (ra > 359).any()
    # Unwrapped around 0, the field is about a degree wide, not 360.
    wrapped = np.where(ra > 180, ra - 360, ra)
    page = open_page(browser, tap_service.url + "/", page_errors)
    type_query(
        page,
        "SELECT ra, dec FROM demo.stars "
        "WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 0, 0, 0.5)) = 1",
    )
    page.click("#run")
    expect(page.locator("#status")).to_contain_text(f"{int(inside.sum())} rows")
    span = float(page.get_attribute("#sky", "data-ra-span") or "nan")
    assert span == pytest.approx(wrapped.max() - wrapped.min(), abs=1e-9)
    assert plotted_pixels(page) > 50
    assert not page_errors
