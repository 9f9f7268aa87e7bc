"""Baselines evaluated through the same harness as Seagull (``seagull.evaluation``)."""
