"""Outbox ids: ordered by time, unique, and unique across a fork (a pre-forking server)."""

from __future__ import annotations

from tests.support.fork import from_forked_child

from mailcard.outbox.model import new_message_id


def test_ids_increase_and_never_repeat() -> None:
    ids = [new_message_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5000
    assert all(len(i) == 32 for i in ids)


def test_a_forked_child_draws_other_random_bits_than_its_parent() -> None:
    new_message_id()
    child_id = from_forked_child(new_message_id)
    parent_id = new_message_id()
    # The last 80 bits are the random part; the first 48 the millisecond clock.
    assert child_id[12:] != parent_id[12:]
