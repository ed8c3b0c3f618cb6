"""Executors (imported as ``nums.backends``): local, and the ones other plugins add."""
