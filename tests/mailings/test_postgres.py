"""Mailings on PostgreSQL: two workers lease chunks with SKIP LOCKED and send each message once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.mailings.conftest import run_mailing
from tests.mailings.test_service import CONTENT, people, service
from tests.support.postgres import mailcard_on

from mailcard.bootstrap import Container
from mailcard.delivery.fake import RecordingTransport

if TYPE_CHECKING:
    from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres


@pytest.fixture()
def on_postgres(tmp_path: Path, postgres: PostgresCluster) -> Iterator[Container]:
    with mailcard_on(postgres, tmp_path) as container:
        yield container


def test_two_workers_share_a_mailing_on_postgres_and_send_each_message_once(on_postgres: Container) -> None:
    mailing, _ = service(on_postgres, chunk_size=5).create("Промо", CONTENT, people(37))
    transport = RecordingTransport()
    done = run_mailing(on_postgres, mailing.id, runners=2, transport=transport)
    assert done.to_dict() == {
        "status": "finished",
        "recipients": 37,
        "composed": 37,
        "refused": 0,
        "messages": {"sent": 37},
    }
    sent_to = Counter(r for send in transport.sends for r in send.envelope.recipients)
    assert sent_to == Counter(f"buyer{n}@example.com" for n in range(37))
    views = on_postgres.mailings().recipients(mailing.id, limit=10, offset=30)[0]
    assert [v.seq for v in views] == list(range(30, 37)) and {v.status for v in views} == {"sent"}
