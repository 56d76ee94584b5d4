"""Comparisons, reports, resource and timing estimates, design-space sweeps."""
