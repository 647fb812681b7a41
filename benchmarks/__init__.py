"""Benchmarks: every performance claim is a ratio measured side by side in one run and saved to
``benchmarks/results/<name>.json`` (hardware, versions, seeds, and ``measures``: a list of
``{name, value, unit, goal, met}``, each value the median of several repeats). Run them with
``rt bench``; see ``benchmarks/README.md``.
"""
