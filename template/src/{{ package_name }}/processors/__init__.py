"""The processors: one folder each (see `base.py` and `registry.py`)."""
