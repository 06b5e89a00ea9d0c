"""The real broker, serve processes and the small simulated cell and model of tests/stream,
for the deploy tests (imported here once, so the session's cell and model are made once for
every deploy test that needs them)."""

from tests.stream.conftest import broker, start_serve, stream_cell

__all__ = ["broker", "start_serve", "stream_cell"]
