"""The TAP 1.1 HTTP surface: app, handlers, parameters, uploads, VOSI, DataLink, examples."""
