"""What a query service is and how one query runs: options, cancellation, type checks, logs."""
