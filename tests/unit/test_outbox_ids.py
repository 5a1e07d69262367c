"""Outbox ids: ordered by time, unique, and unique across a fork (a pre-forking server)."""

from __future__ import annotations

import os

from mailcard.outbox.model import new_message_id


def test_ids_increase_and_never_repeat() -> None:
    ids = [new_message_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5000
    assert all(len(i) == 32 for i in ids)


def test_a_forked_child_draws_other_random_bits_than_its_parent() -> None:
    new_message_id()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, new_message_id().encode())
        os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    parent_id = new_message_id()
    # The last 80 bits are the random part; the first 48 the millisecond clock.
    assert child_id[12:] != parent_id[12:]
