"""Results: the SQLite store, the generic report renderer and the figures."""
