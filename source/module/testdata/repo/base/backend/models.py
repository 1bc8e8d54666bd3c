"""Data models of the backend."""

from dataclasses import dataclass


@dataclass
class Record:
    """One stored record."""

    key: str
    value: int = 0

    def bump(self, n: int) -> None:
        # Increase the value, never below zero.
        if n < 0:
            raise ValueError("negative")
        self.value += n
