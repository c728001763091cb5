"""Exceptions raised for bad input: each names the file, row or field and what was expected."""

from __future__ import annotations

__all__ = ["InputError", "LifecircleError", "NetworkError", "ProfileError"]


class LifecircleError(Exception):
    """Base class of every error this library raises on purpose."""


class InputError(LifecircleError, ValueError):
    """A file, table, row or field does not hold what was expected."""


class NetworkError(InputError):
    """An OSM source gives no usable walking network."""


class ProfileError(InputError):
    """A standards profile is malformed: names the file and key."""
