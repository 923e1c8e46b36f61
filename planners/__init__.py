"""Per-backend query planners: pure rewriting of ADQL ASTs into backend requests."""
