"""A mailing delivered through the real Postfix + Dovecot (STARTTLS, AUTH): every recipient gets their
own message once, a recipient whose message is blocked is refused alone, and the messages show on the
customers' cards."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.mailings.conftest import run_mailing

from mailcard.bootstrap import Container, build
from mailcard.crm import NewCustomer
from mailcard.delivery.settings import SmtpSettings
from mailcard.identity import Principal, Role
from mailcard.mailings import MailingContent, RecipientInput
from mailcard.secret import Secret
from mailcard.settings import Settings

if TYPE_CHECKING:
    from tests.support.postfix import PostfixServer

pytestmark = pytest.mark.postfix

HTML = """<html><body>
<p>Здравствуйте, {{ customer.firstName }}!</p>
<p>Ваш промокод: <b>{{ code }}</b>{% if note is defined %} — {{ note|raw }}{% endif %}</p>
<p><a href="https://shop.example.com/sale?c={{ code|url_encode }}">Скидки недели</a></p>
</body></html>"""


@pytest.fixture()
def mailcard(tmp_path: Path, postfix: PostfixServer) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path, devinbox_port=1, smtp_ca_file=str(postfix.ca_file)))
    built.accounts.save(
        "postfix",
        SmtpSettings(
            postfix.host,
            postfix.submission_port,
            "starttls",
            username=postfix.sender,
            password=Secret(postfix.users[postfix.sender]),
        ),
        is_default=True,
    )
    try:
        yield built
    finally:
        built.dispose()


def test_a_mailing_reaches_every_mailbox_once_and_a_blocked_message_is_refused_alone(
    mailcard: Container, postfix: PostfixServer
) -> None:
    names = ["Анна", "王芳", "John", "Иван", "李娜"] * 3
    addresses = [postfix.fresh_address(f"m{n}") for n in range(len(names))]
    customer = mailcard.customers.create(NewCustomer(email=addresses[0], first_name="Ольга"))
    recipients = [RecipientInput(customer_id=str(customer.id), context={"code": "OLGA-0"})] + [
        RecipientInput(to=address, context={"customer": {"firstName": name}, "code": f"SALE-{n}"})
        for n, (name, address) in enumerate(zip(names[1:], addresses[1:], strict=True), start=1)
    ]
    # One recipient's data carries a script, printed raw: that message alone is blocked.
    recipients[4] = RecipientInput(
        to=addresses[4],
        context={"customer": {"firstName": "Mallory"}, "code": "X", "note": "<script>alert(1)</script>"},
    )
    mailing, progress = mailcard.mailings().create(
        "Скидки недели",
        MailingContent(
            sender=f"客服团队 <{postfix.sender}>",
            subject="{{ customer.firstName }}, скидки недели",
            preheader="Промокод {{ code }} внутри",
            html=HTML,
        ),
        recipients,
    )
    assert progress.to_dict()["status"] == "composing" and progress.recipients == len(names)

    done = run_mailing(mailcard, mailing.id, timeout=60)

    assert done.messages == {"sent": len(names) - 1} and done.refused == 1
    for n, address in enumerate(addresses):
        if n == 4:
            assert postfix.messages(address) == [], "a blocked message is never sent"
            continue
        [raw] = postfix.wait_for_messages(address, 1)
        received = email.message_from_bytes(raw, policy=policy.default)
        first_name = "Ольга" if n == 0 else names[n]
        assert received["Subject"] == f"{first_name}, скидки недели"
        assert str(received["From"]) == f"客服团队 <{postfix.sender}>"
        code = "OLGA-0" if n == 0 else f"SALE-{n}"
        assert code in received.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    views = mailcard.mailings().recipients(mailing.id, limit=100, offset=0)[0]
    refused = [v for v in views if v.status == "refused"]
    assert [v.seq for v in refused] == [4] and refused[0].error is not None
    assert refused[0].error["code"] == "content_blocked" and "script" in refused[0].error["message"].lower()
    # The customer's card shows the mailing's message with its outcome.
    admin = Principal(user_id=0, login="admin", role=Role.ADMIN, store_ids=frozenset(), via="token")
    [shown] = mailcard.card.timeline(admin, customer.id)
    assert shown["status"] == "sent" and shown["id"] == views[0].message_id
