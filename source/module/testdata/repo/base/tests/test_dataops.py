import pytest

from base.backend.dataops import load, count


def test_load_missing(tmp_path):
    assert load(str(tmp_path / "none.json")) == []


class TestCount:
    def test_empty(self):
        assert count([]) == 0

    async def test_async_empty(self):
        assert count([]) == 0

    def helper(self):
        """def test_in_docstring(): not a test"""
