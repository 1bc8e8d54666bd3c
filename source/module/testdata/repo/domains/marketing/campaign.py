from base.backend.dataops import load
from base.backend import models


def campaign_names(path):
    return [r.key for r in load(path) if isinstance(r, models.Record)]
