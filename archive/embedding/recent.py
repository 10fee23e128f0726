"""The vectors of the last few queries, so that a query asked again is not embedded again.

One search page asks for a query's results and its timeline; a reader paging, filtering or sorting asks the
same query again. Each ask was one pass of the query encoder (it reads every weight: a few milliseconds on a
CPU), where a lookup here takes microseconds. Vectors are handed out read-only, since every caller shares them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from archive.embedding.base import Vectors

RECENT_QUERIES = 256  # 1.5 KB a vector at 384-d: under 0.5 MB held


class RecentQueries:
    """A least-recently-used map of query text to its vector, safe to share between threads."""

    def __init__(self, size: int = RECENT_QUERIES) -> None:
        self.size = size
        self._held: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def vector(self, text: str, embed: Callable[[str], Vectors]) -> Vectors:
        """``text``'s vector: the held one, else ``embed(text)`` (outside the lock: two threads asking for the
        same new text at once both embed it, and either result is kept)."""
        with self._lock:
            held = self._held.get(text)
            if held is not None:
                self._held.move_to_end(text)
                return held
        vector = np.array(embed(text), dtype=np.float32)
        vector.flags.writeable = False
        if self.size > 0:
            with self._lock:
                self._held[text] = vector
                self._held.move_to_end(text)
                while len(self._held) > self.size:
                    self._held.popitem(last=False)
        return vector

    def __len__(self) -> int:
        return len(self._held)
