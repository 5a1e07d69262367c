"""Message-IDs and boundaries stay unique: across messages, threads and forked processes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from tests.support.fork import from_forked_child

from mailcard.domain.mailbox import Mailbox
from mailcard.mime import MessageDraft, build_message
from mailcard.tokens import token_hex


def _draft() -> MessageDraft:
    return MessageDraft(
        sender=Mailbox("shop@example.com", "Shop"),
        to=[Mailbox("anna@example.com")],
        subject="Заказ",
        text="Текст",
        html="<p>Текст</p>",
        date=datetime(2026, 11, 22, tzinfo=UTC),
    )


def test_every_message_gets_its_own_message_id_and_boundary() -> None:
    built = [build_message(_draft()) for _ in range(3000)]  # several refills of the pool
    ids = {b.message_id for b in built}
    boundaries = {b.data.split(b'boundary="', 1)[1].split(b'"', 1)[0] for b in built}
    assert len(ids) == 3000
    assert len(boundaries) == 3000
    assert all(len(b.message_id) == len("<>@example.com") + 32 for b in built)


def test_tokens_taken_from_threads_never_repeat() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [token_hex(16) for _ in range(2000)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == len(seen) == 8000


def test_a_forked_child_does_not_repeat_its_parents_tokens() -> None:
    token_hex(16)  # the pool now holds bytes the child would inherit
    child_token = from_forked_child(lambda: token_hex(16))
    assert len(child_token) == 32
    assert child_token != token_hex(16)
