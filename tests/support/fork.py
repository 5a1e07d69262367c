"""``from_forked_child``: what a function returns when run in a forked child of the test process."""

from __future__ import annotations

import os
from collections.abc import Callable


def from_forked_child(produce: Callable[[], str]) -> str:
    """Fork, run ``produce`` in the child, and return its text (the child leaves at once)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, produce().encode())
        os._exit(0)
    os.close(write_end)
    try:
        return os.read(read_end, 4096).decode()
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
