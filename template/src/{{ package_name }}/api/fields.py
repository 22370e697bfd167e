"""Ids in paths and queries, bounded as their columns are (`limits`): a longer or odd one
is a 422, before any query."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from .. import limits

PathId = Annotated[
    str, Path(min_length=1, max_length=limits.ID, pattern=limits.ID_PATTERN, description="an id")
]
QueryId = Annotated[
    str, Query(min_length=1, max_length=limits.ID, pattern=limits.ID_PATTERN, description="an id")
]
