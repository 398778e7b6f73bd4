"""The API tests' session fixtures (keys of two organizations, the oracle's events) here too."""

from tests.api.conftest import keys, oracle

__all__ = ["keys", "oracle"]
