"""Fixtures of the planner tests: demo data and the stand-ins served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from standins.data import DemoData, ensure_demo_data
from standins.hsc import BASE_PATH, create_hsc_app
from standins.spectral import create_spectral_app
from tests.live_server import serve_app


@pytest.fixture(scope="session")
def demo_data() -> DemoData:
    """The demo tables (generated once per cache directory, then reused)."""
    return ensure_demo_data()


@pytest.fixture(scope="session")
def hsc_url(demo_data: DemoData) -> Iterator[str]:
    """Base URL of the HSC stand-in (``.../api/v0.1/hsc``)."""
    with serve_app(create_hsc_app(demo_data)) as base:
        yield base + BASE_PATH


@pytest.fixture(scope="session")
def spectral_url(demo_data: DemoData) -> Iterator[str]:
    """Base URL of the spectral stand-in (``.../spec``)."""
    with serve_app(create_spectral_app(demo_data)) as base:
        yield base + "/spec"
