"""Seagull on Ray: region-of-interest image quality assessment at cluster scale.

The library (this package) knows nothing about Ray: every function that renders, segments,
labels or scores one image is callable from a plain Python shell. ``pipelines/`` and
``serve/`` compose it into Ray jobs and a Ray Serve application.
"""

__version__ = "0.1.0"
