"""An example gp plugin package."""
