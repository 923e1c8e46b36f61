"""The planners ``adql-gateway translate`` uses: the public services, or a configuration's.

With no configuration, translation targets the real public services (HSC at MAST with the
shipped column metadata, the Data Lab legacy spectral service with context ``sdss_dr16``,
spectro-ids.md A.1), so ``adql-gateway translate QUERY`` works with no set-up. A TOML
configuration (:mod:`gateway.settings`) replaces them with its own ``hsc``, ``spectral`` and
``sia`` backends; for ``hsc`` the ``url`` is the service base (``.../api/v0.1/hsc``), for
``spectral`` the ``/spec`` root, for ``sia`` the SIAv2 query endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.settings import BackendConfig, GatewaySettings, load_settings
from planners.base import Planner
from planners.hsc import DEFAULT_BASE_URL as HSC_URL
from planners.hsc import HscPlanner
from planners.sia import RUBIN_DP1_COLUMNS, SiaPlanner
from planners.spectral import DEFAULT_BASE_URL as SPEC_URL
from planners.spectral import SpectralPlanner

AnyPlanner = Planner[Any]


def builtin_planners() -> dict[str, AnyPlanner]:
    """The public services by backend name: ``hsc`` and ``spec``."""
    return {
        "hsc": HscPlanner(backend="hsc", base_url=HSC_URL),
        "spec": SpectralPlanner(backend="spec", base_url=SPEC_URL, contexts=("sdss_dr16",)),
    }


def planner_for(backend: BackendConfig) -> AnyPlanner | None:
    """The planner of one configured backend, or None for kinds translated elsewhere."""
    if backend.kind == "hsc":
        return HscPlanner(
            backend=backend.name, base_url=backend.url or HSC_URL, pagesize=backend.page_size
        )
    if backend.kind == "spectral":
        contexts = (backend.context or "sdss_dr16",)
        return SpectralPlanner(
            backend=backend.name, base_url=backend.url or SPEC_URL, contexts=contexts
        )
    if backend.kind == "sia" and backend.url:
        rubin = backend.sia_profile == "rubin"
        return SiaPlanner(
            backend=backend.name,
            url=backend.url,
            extra_columns=RUBIN_DP1_COLUMNS if rubin else (),
            extensions=frozenset({"DPSUBTYPE"}) if rubin else frozenset(),
        )
    # TAP backends need the remote /tables metadata: the federation catalogue builds them.
    return None


def configured_planners(config: Path | GatewaySettings) -> dict[str, AnyPlanner]:
    """Planners of the backends of ``config`` (settings or a TOML file; REST kinds only)."""
    settings = load_settings(config) if isinstance(config, Path) else config
    out: dict[str, AnyPlanner] = {}
    for backend in settings.backends:
        planner = planner_for(backend)
        if planner is not None:
            out[backend.name] = planner
    return out
