"""The planners ``adql-gateway translate`` uses: the public services, or a configuration's.

With no configuration, translation targets the public services the backend kinds name (HSC at
MAST with the shipped column metadata, the Data Lab legacy spectral service with context
``sdss_dr16``, spectro-ids.md A.1), so ``adql-gateway translate QUERY`` works with no set-up.
A TOML configuration (:mod:`gateway.settings`) replaces them with its own backends; kinds whose
planner needs the service's metadata (TAP) are left to the federation catalogue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.kinds.registry import all_kinds, kind_for
from gateway.settings import BackendConfig, GatewaySettings, load_settings
from planners.base import Planner

AnyPlanner = Planner[Any]


def builtin_planners() -> dict[str, AnyPlanner]:
    """The public services by backend name (``hsc``, ``spec``)."""
    out: dict[str, AnyPlanner] = {}
    for kind in all_kinds():
        public = kind.public_backend()
        planner = kind.planner(public) if public is not None else None
        if public is not None and planner is not None:
            out[public.name] = planner
    return out


def planner_for(backend: BackendConfig) -> AnyPlanner | None:
    """The planner of one configured backend, or None for kinds that need remote metadata."""
    return kind_for(backend.kind).planner(backend)


def configured_planners(config: Path | GatewaySettings) -> dict[str, AnyPlanner]:
    """Planners of the backends of ``config`` (settings or a TOML file; REST kinds only)."""
    settings = load_settings(config) if isinstance(config, Path) else config
    out: dict[str, AnyPlanner] = {}
    for backend in settings.backends:
        planner = planner_for(backend)
        if planner is not None:
            out[backend.name] = planner
    return out
