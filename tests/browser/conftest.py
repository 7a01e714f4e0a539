"""Browser journeys that cross domains; the fixtures live in tests/conftest.py, helpers in browser_support."""

from tests.browser_support import login

__all__ = ["login"]
