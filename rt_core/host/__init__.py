"""The plugin host: hook specs, the plugin manager, registries of frozen records, the augmentation
and regularizer contracts, and the plugin-author test kit (contract checks, pytest fixtures)."""
