"""Shared test helpers: the tiny sweep config, plugins that fail on purpose, test-only ops for the theory."""
