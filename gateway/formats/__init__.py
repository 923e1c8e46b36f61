"""Result writers and backend answer readers: VOTable, BINARY2, CSV/TSV, JSON, Parquet."""
