"""``mailcard worker`` composes and sends a mailing stored with ``--no-wait``; killed with SIGKILL
half-way and started again, it finishes the mailing and every recipient gets their e-mail once (twice
only if the kill cut that message's SMTP conversation itself, as the outbox documents)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.acceptance.conftest import MAILCARD
from tests.acceptance.test_cli_postfix import submission_url
from tests.support.postfix_tools import catches_signal, wait_for

from mailcard.db.engine import create_db_engine
from mailcard.mailings import SqlMailingStore
from mailcard.outbox.model import MessageStatus
from mailcard.outbox.sql import SqlOutboxStore

if TYPE_CHECKING:
    from tests.support.postfix import PostfixServer

pytestmark = [pytest.mark.slow, pytest.mark.postfix]
RECIPIENTS = 600  # three chunks


def test_a_killed_worker_finishes_the_mailing_and_each_recipient_gets_one_email(
    tmp_path: Path, postfix: PostfixServer
) -> None:
    env = os.environ | {
        "MAILCARD_DATA_DIR": str(tmp_path / "var"),
        "MAILCARD_SMTP_CA_FILE": str(postfix.ca_file),
        "MAILCARD_LEASE_SECONDS": "1",
        "MAILCARD_WORKER_POLL_SECONDS": "0.05",
        "MAILCARD_LOG_LEVEL": "WARNING",
    }
    addresses = [postfix.fresh_address(f"m{n}") for n in range(RECIPIENTS)]
    people = tmp_path / "people.jsonl"
    people.write_text(
        "".join(json.dumps({"to": a, "context": {"n": n}}) + "\n" for n, a in enumerate(addresses)), "utf-8"
    )
    body = tmp_path / "body.txt"
    body.write_text("Ваш номер: {{ n }}", "utf-8")
    created = subprocess.run(
        [MAILCARD, "mailing", "create", "--name", "Crash", "--from", f"Магазин <{postfix.sender}>",
         "--subject", "Письмо №{{ n }}", "--recipients", str(people), "--text-file", str(body),
         "--smtp", submission_url(postfix), "--no-wait", "--json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    mailing_id = json.loads(created.stdout)["id"]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'var' / 'mailcard.db'}")
    mailings, outbox = SqlMailingStore(engine), SqlOutboxStore(engine)

    def start_worker(name: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([MAILCARD, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def sent() -> int:
        return mailings.progress(mailing_id).messages.get("sent", 0)

    first = start_worker("first")
    try:
        wait_for(lambda: sent() >= 50, 60, "the first messages to be sent", interval=0.02, proc=first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = mailings.progress(mailing_id)
    in_smtp_at_kill = {m.envelope_to[0] for m in outbox.list(status=MessageStatus.SENDING, limit=1000)}
    assert at_kill.messages.get("sent", 0) < RECIPIENTS, "killed half-way"

    second = start_worker("second")
    try:
        wait_for(lambda: mailings.progress(mailing_id).status == "finished", 120, "the mailing to finish",
                 interval=0.1, proc=second)  # fmt: skip
        wait_for(lambda: catches_signal(second, signal.SIGTERM), 30, "the worker to handle SIGTERM",
                 interval=0.05, proc=second)  # fmt: skip
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    assert mailings.progress(mailing_id).to_dict() == {
        "status": "finished",
        "recipients": RECIPIENTS,
        "composed": RECIPIENTS,
        "refused": 0,
        "messages": {"sent": RECIPIENTS},
    }
    wait_for(
        lambda: len(postfix_copies(postfix, addresses)) == RECIPIENTS, 30, "every mailbox to have its e-mail"
    )
    copies = postfix_copies(postfix, addresses)
    twice = {a for a, n in copies.items() if n > 1}
    assert twice <= in_smtp_at_kill, (
        f"sent twice without being in SMTP at the kill: {twice - in_smtp_at_kill}"
    )
    engine.dispose()


def postfix_copies(postfix: PostfixServer, addresses: list[str]) -> Counter[Any]:
    wanted = {a.lower() for a in addresses}
    return Counter(to for to, _ in postfix.all_messages() if to in wanted)
