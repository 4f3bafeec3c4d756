"""A queue wrapper whose first Reserve calls are slower than the real-clock margin."""

from __future__ import annotations

import time
from typing import Any


class SlowFirstReserves:
    """Forwards everything to ``queue``; its first ``slow`` Reserve calls first sleep ``pause``
    seconds (past the 0.25 s margin), so the harness must not judge them."""

    def __init__(self, queue: Any, slow: int = 1, pause: float = 0.4) -> None:
        self.queue = queue
        self.slow = slow
        self.pause = pause

    def __getattr__(self, name: str) -> Any:
        return getattr(self.queue, name)

    def reserve(self, now: Any) -> Any:
        if self.slow:
            self.slow -= 1
            time.sleep(self.pause)
        return self.queue.reserve(now)
