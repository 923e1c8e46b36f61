"""The demo federation: its configuration, the supervisor of its services, the run."""
