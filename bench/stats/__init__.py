"""Uncertainty of reported numbers: bootstrap intervals and paired comparisons.

A cell of the leaderboard is a mean over folds (or trials) of a metric computed on test
items. :mod:`bench.stats.items` reads a result record's per-item data back (predictions and
the ``.scores.npz`` sidecar), :mod:`bench.stats.weighted` recomputes every metric under
per-item weights (a bootstrap resample is a vector of multinomial counts), and
:mod:`bench.stats.bootstrap` turns those into 95 % percentile intervals and paired tests.
How each metric is resampled is written down in ``docs/protocols.md``.
"""
