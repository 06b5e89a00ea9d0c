"""How a long-running command (`serve`, `alerts`) stops on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable


def stop_on_signals(stop: Callable[[], None]) -> None:
    """The first signal calls `stop`: the command finishes within its grace period. A second
    exits at once with status 130; what was not committed by then is read again after the
    restart (and verdicts and alerts already sent are known again by their ids)."""
    loop = asyncio.get_running_loop()
    seen = 0

    def on_signal() -> None:
        nonlocal seen
        seen += 1
        if seen > 1:
            os._exit(130)
        stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
