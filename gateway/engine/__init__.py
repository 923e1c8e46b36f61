"""The local DuckDB engine, its SQL functions and the query service over local tables."""
