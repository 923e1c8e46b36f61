"""Backend kinds, one module each; :mod:`gateway.kinds.registry` finds and registers them."""
