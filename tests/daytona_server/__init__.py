"""A fake Daytona cloud for tests: the REST API and toolbox the SDK talks to, served from a local thread."""

from tests.daytona_server.server import DEFAULT_KEY, FakeDaytona

__all__ = ["DEFAULT_KEY", "FakeDaytona"]
