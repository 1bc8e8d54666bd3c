"""Data operations.

import not_an_import  (inside a docstring)
"""

import os
import json

from base.backend.models import Record
from . import models
from .models import Record as R2


def load(path: str) -> list[Record]:
    """Read records from a JSON file."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        data = json.load(f)
    out = []
    for item in data:
        if "key" in item and item.get("value", 0) >= 0:
            out.append(Record(item["key"], item.get("value", 0)))
        elif "key" in item:
            out.append(R2(item["key"]))
    return out


def count(records) -> int:
    return len([r for r in records if isinstance(r, models.Record)])
