"""The built-in plugins of rt. Each module is an ordinary plugin, loaded through the ``rt``
entry-point group, and uses only rt_core's public API."""
