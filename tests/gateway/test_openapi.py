"""The OpenAPI document of the gateway: every operation has its own id (no FastAPI warning)."""

from __future__ import annotations

import warnings
from pathlib import Path

from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app

METHODS = {"get", "post", "put", "delete", "patch", "head", "options"}


def test_operation_ids_are_unique_and_nothing_warns(tmp_path: Path) -> None:
    app = build_app(GatewaySettings(data_dir=tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns about duplicate operation ids
        schema = app.openapi()
    ids = [
        operation["operationId"]
        for path in schema["paths"].values()
        for method, operation in path.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    # GET and POST both stay available where TAP allows either
    for path in ("/tap/sync", "/tap/translate", "/tap/explain", "/tap/datalink/links"):
        assert {"get", "post"} <= set(schema["paths"][path]), path
