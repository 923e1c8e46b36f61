"""``python -m standins hsc|sia|spectral --port N [--data DIR] [--host 127.0.0.1]``.

Generates (or reuses) the demo data, then serves one stand-in with uvicorn. ``spectral``
also takes ``--require-token TOKEN`` to act as a private service (HTTP 401 without it).
Each service's module is imported only when chosen, so one stand-in runs even while another
is unwritten.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import uvicorn

from standins.data import ensure_demo_data

SERVICES = {
    "hsc": ("standins.hsc", "create_hsc_app"),
    "sia": ("standins.sia", "create_sia_app"),
    "spectral": ("standins.spectral", "create_spectral_app"),
}
"""Service name -> (module, app factory taking the demo data)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m standins", description=__doc__)
    parser.add_argument("service", choices=sorted(SERVICES))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data", type=Path, default=None, help="demo data cache directory")
    parser.add_argument(
        "--require-token",
        default=None,
        metavar="TOKEN",
        help="spectral only: answer 401 unless X-DL-AuthToken or a bearer token is TOKEN",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the chosen stand-in until interrupted; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    options = {}
    if args.require_token is not None:
        if args.service != "spectral":
            parser.error("--require-token is an option of the spectral stand-in")
        options["require_token"] = args.require_token
    module_name, factory_name = SERVICES[args.service]
    factory = getattr(importlib.import_module(module_name), factory_name)
    app = factory(ensure_demo_data(args.data), **options)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
