"""The dry-run backend: plan a cluster's work on sizes only, on a laptop."""
