"""``python -m gateway.cli``: the same entry point as the ``adql-gateway`` script."""

from gateway.cli import main

raise SystemExit(main())
