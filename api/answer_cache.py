"""Memo of composed answers. Residents ask the same few questions over and over ("低保怎么申请"), and a
composed answer is a pure function of the question, its context, the index version and the catalogue
revision — so those are the key, and a publish or rollback can never serve a stale answer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from cachetools import LRUCache

from knowledge.answering import Reply


class AnswerCache:
    def __init__(self, maxsize: int = 2048):
        self._cache: LRUCache[Hashable, Reply] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe; routes run in a thread pool
        self.hits = 0
        self.misses = 0

    def get_or_compose(self, key: Hashable, compose: Callable[[], Reply]) -> Reply:
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self.hits += 1
                return cached.model_copy(deep=True)
            self.misses += 1
        reply = compose()  # outside the lock: two threads may compose the same answer once each, harmlessly
        with self._lock:
            self._cache[key] = reply
        return reply.model_copy(deep=True)

    def clear(self) -> None:
        """Forget every composed answer (an admin changed something answers depend on but no key holds)."""
        with self._lock:
            self._cache.clear()
