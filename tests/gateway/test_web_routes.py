"""The query page's routes on a real server: redirects, static files, and /parse."""

from __future__ import annotations

import warnings

import httpx
import pytest

import grammar
from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from tests.gateway.conftest import TapService, error_message
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration


def root_of(tap_url: str) -> str:
    return tap_url.removesuffix("/tap")


def test_root_and_base_path_redirect_to_the_page(tap_service: TapService) -> None:
    root = root_of(tap_service.url)
    for path, location in (("/", "tap/"), ("/tap", "tap/")):
        response = httpx.get(root + path, timeout=10)
        assert response.status_code == 303
        # Relative, so that the page also works behind a proxy that adds a path prefix.
        assert response.headers["location"] == location
    page = httpx.get(root + "/", follow_redirects=True, timeout=10)
    assert str(page.url) == f"{tap_service.url}/"
    assert page.headers["content-type"].startswith("text/html")
    assert '<textarea id="query"' in page.text
    assert 'src="web/app.js"' in page.text  # relative to the TAP base
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_static_files_are_served_with_their_types(tap_service: TapService) -> None:
    for name, media in (("app.js", "text/javascript"), ("app.css", "text/css")):
        response = httpx.get(f"{tap_service.url}/web/{name}", timeout=10)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)
    words = httpx.get(f"{tap_service.url}/web/keywords.json", timeout=10).json()
    assert "SELECT" in words["sql"]
    assert "CONTAINS" in words["adql"]


@pytest.mark.parametrize("name", ["missing.js", "..%2Fapp.py", "%2E%2E%2F__init__.py"])
def test_unknown_web_files_are_404(tap_service: TapService, name: str) -> None:
    response = httpx.get(f"{tap_service.url}/web/{name}", timeout=10)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ra FROM demo.stars WHERE",
        "SELECT ra,\n  dec\nFROM demo.stars\nWHERE ra > > 3",
        "SELEC ra FROM demo.stars",
        "SELECT 'unterminated FROM demo.stars",
        "",
    ],
)
def test_parse_reports_the_parsers_own_position(tap_service: TapService, query: str) -> None:
    with pytest.raises(grammar.AdqlSyntaxError) as raised:
        grammar.parse(query)
    expected = raised.value
    for method in ("GET", "POST"):
        if method == "GET":
            response = httpx.get(f"{tap_service.url}/parse", params={"QUERY": query}, timeout=10)
        else:
            response = httpx.post(f"{tap_service.url}/parse", data={"QUERY": query}, timeout=10)
        assert response.status_code == 200
        answer = response.json()
        assert answer["ok"] is False
        error = answer["error"]
        assert (error["line"], error["column"]) == (expected.line, expected.column)
        assert error["expected"] == list(expected.expected)
        assert error["message"] == expected.reason


def test_parse_of_a_valid_query_gives_canonical_adql(tap_service: TapService) -> None:
    response = httpx.post(
        f"{tap_service.url}/parse", data={"query": "select top 3 ra from demo.stars"}, timeout=10
    )
    assert response.json() == {"ok": True, "canonical": "SELECT TOP 3 ra FROM demo.stars"}


def test_parse_without_query_is_a_dali_usage_error(tap_service: TapService) -> None:
    response = httpx.get(f"{tap_service.url}/parse", timeout=10)
    assert response.status_code == 400
    assert "QUERY" in error_message(response.content)


def test_page_routes_have_unique_openapi_operation_ids(tmp_path) -> None:
    settings = GatewaySettings(base_url="http://127.0.0.1:9/tap", data_dir=tmp_path, backends=[])
    app = build_app(settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = app.openapi()
    assert not [w for w in caught if "handlers/web.py" in str(w.message)]
    assert {"get", "post"} <= set(schema["paths"]["/tap/parse"])


def test_page_at_the_root_when_the_base_url_has_no_path(tmp_path) -> None:
    sock = reserve_port()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = build_app(GatewaySettings(base_url=base, data_dir=tmp_path, backends=[]))
    with serve_app(app, sock=sock, lifespan="on") as url:
        page = httpx.get(url + "/", timeout=10)
        assert page.status_code == 200
        assert '<textarea id="query"' in page.text
        # The page's relative URLs resolve to the TAP routes at the root.
        answer = httpx.get(url + "/parse", params={"QUERY": "SELECT 1 FROM t"}, timeout=10)
        assert answer.json()["ok"] is True
        assert httpx.get(url + "/web/app.js", timeout=10).status_code == 200
