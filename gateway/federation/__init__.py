"""The federation: catalogue, planner, fetches from backends, joins, explain."""
