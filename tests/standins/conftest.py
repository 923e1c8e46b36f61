"""Shared fixture of the stand-in tests: the demo data (servers: :mod:`tests.live_server`)."""

from __future__ import annotations

import pytest

from standins.data import DemoData, ensure_demo_data


@pytest.fixture(scope="session")
def demo_data() -> DemoData:
    """The demo tables (generated once per cache directory, then reused)."""
    return ensure_demo_data()
