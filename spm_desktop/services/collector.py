"""Pause Python's cyclic garbage collector while a bulk step builds millions of objects.

Reading or writing a million records creates lists and tuples faster than they die.
Each full pass of the cyclic collector visits every live container, so a 1,000,000-row
import spent about two seconds in it while writing (measured with ``bench/import.py``).
Reference counting still frees everything that is not part of a cycle, so memory does
not grow while the collector waits. Cycles made meanwhile are found when it resumes.

Nested and concurrent pauses share one count: the collector resumes when the last one
ends, and only if it was running when the first one began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off, restoring it afterwards (also on errors)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
