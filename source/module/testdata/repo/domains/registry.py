# Registry of domains.
import base.backend.models

DOMAINS = {}


def register(name):
    DOMAINS[name] = base.backend.models.Record(name)
