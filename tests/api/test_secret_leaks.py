"""No secret leaks into a response, a header or a log line, and secrets at rest are encrypted or hashed.

One realistic session against what ``mailcard run`` serves (the real app behind real uvicorn, with the
worker and the dev inbox, over HTTP): logins with passwords, API tokens, users created and given new
passwords, SMTP accounts with passwords — saved through the API, one given inline as a CLI would, one
whose host was pasted as an ``smtp://user:password@`` URL — tested against a port that refuses
connections and against the real Postfix (a good and a wrong password), sender confirmations by code
and by link, e-mail sent from the customer card (delivered, and failing through an unreachable
account), and every list and record read back.

Every log record of every logger at DEBUG (mailcard, uvicorn, SQLAlchemy, the dev inbox's SMTP
server...) and every response body and header is then searched for every secret, also base64- and
URL-encoded. The only places a secret may appear: the response that creates an API token (its body,
once) and the login response's ``Set-Cookie``. The database must hold SMTP passwords only encrypted
and tokens and sessions only hashed.
"""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from cryptography.fernet import Fernet
from tests.support.card_world import refusing_port
from tests.support.live_server import live_server
from tests.support.postfix import PostfixServer
from tests.support.postfix_tools import free_port

from mailcard.api.app import Services, create_app
from mailcard.bootstrap import Container, build
from mailcard.delivery.settings import parse_smtp_url
from mailcard.identity import NewUser, Role
from mailcard.identity.opaque import digest
from mailcard.settings import Settings

ADMIN_PASSWORD = "Adm1n-pass-phrase!"
OLGA_PASSWORD = "olga-first-pass-77"
OLGA_NEW_PASSWORD = "olga-second-pass-88"
WRONG_PASSWORD = "not-olgas-pass-99"
SHORT_PASSWORD = "sh0rt"
PROVIDER_PASSWORD = "provider-app-pass-3141"
WRONG_SMTP_PASSWORD = "wrong-smtp-pass-2718"
INLINE_PASSWORD = "inline url pass/+:@1"
HOST_URL_PASSWORD = "pasted-into-host-1618"
CLIENT_LOGGERS = ("httpx", "httpcore")
LOGGERS = ("", "mailcard", "uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "sqlalchemy", "mail.log")


@dataclass
class Recorded:
    label: str
    response: httpx.Response
    # Secrets this response may carry: the token it creates, or the session its Set-Cookie opens.
    may_carry: frozenset[str] = frozenset()


@dataclass
class Session:
    """Every response of the run, and every secret that came up in it."""

    base_url: str
    responses: list[Recorded] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)
    csrf: dict[int, str] = field(default_factory=dict)

    def client(self, *, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def call(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        *,
        may_carry: frozenset[str] = frozenset(),
        **kw: Any,
    ) -> httpx.Response:
        if method not in ("GET", "HEAD") and "mailcard_session" in client.cookies:
            kw.setdefault("headers", {})["X-CSRF-Token"] = self.csrf[id(client)]
        response = client.request(method, path, **kw)
        response.read()
        self.responses.append(Recorded(f"{method} {path}", response, may_carry))
        return response

    def login(self, client: httpx.Client, login: str, password: str) -> str:
        response = self.call(client, "POST", "/api/auth/login", json={"login": login, "password": password})
        assert response.status_code == 200, response.text
        session = client.cookies["mailcard_session"]
        self.responses[-1].may_carry = frozenset({session})
        self.secrets[f"session of {login} {len(self.secrets)}"] = session
        self.csrf[id(client)] = response.json()["csrf_token"]
        return session

    def new_token(self, client: httpx.Client, name: str) -> str:
        response = self.call(client, "POST", "/api/tokens", json={"name": name})
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        self.responses[-1].may_carry = frozenset({token})
        self.secrets[f"API token {name}"] = token
        return token


@pytest.fixture()
def container(tmp_path: Path, postfix: PostfixServer) -> Iterator[Container]:
    settings = Settings(
        data_dir=tmp_path,
        secret_key=Fernet.generate_key().decode(),
        devinbox_port=free_port(),
        public_url="https://crm.example.com",
        cookie_secure=False,  # the test talks plain HTTP to uvicorn on loopback
        smtp_ca_file=str(postfix.ca_file),
        worker_poll_seconds=0.05,
    )
    built = build(settings)
    try:
        yield built
    finally:
        built.dispose()


def test_no_secret_in_any_response_header_or_log_line(
    container: Container, postfix: PostfixServer, caplog: pytest.LogCaptureFixture
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    closed = refusing_port()
    try:
        session = _run_session(container, postfix, int(closed.getsockname()[1]))
    finally:
        closed.close()
    secrets = _secrets_of(session, container)

    for recorded in session.responses:
        text = _response_text(recorded.response)
        for name, secret in secrets.items():
            if secret in recorded.may_carry:
                assert secret in text  # the check can see a secret where one is
                continue
            for form in _forms(secret):
                assert form not in text, f"{name} in the response to {recorded.label}"
        for code in session.codes:
            assert not _has_code(text, code), f"confirmation code in the response to {recorded.label}"

    assert len(caplog.records) > 100, "the logs were not captured"
    assert any(r.name.startswith("uvicorn") for r in caplog.records)
    assert any(r.name.startswith("sqlalchemy") for r in caplog.records)
    for record in caplog.records:
        if record.name.startswith(CLIENT_LOGGERS):
            continue  # the test's own HTTP client, not the service
        text = _record_text(record)
        for name, secret in secrets.items():
            for form in _forms(secret):
                assert form not in text, f"{name} logged by {record.name}: {text[:300]}"
        if record.name != "mail.log":  # the dev inbox's SMTP server receives the code by design
            for code in session.codes:
                assert not _has_code(text, code), f"confirmation code logged by {record.name}"

    _check_secrets_at_rest(container, session)


def _run_session(container: Container, postfix: PostfixServer, refused_port: int) -> Session:
    container.users.create(NewUser("admin", "Admin", "admin@shop.example.com", Role.ADMIN, ADMIN_PASSWORD))
    app = create_app(container, Services(worker=True, devinbox=True))
    with live_server(app) as base_url:
        s = Session(base_url)
        with s.client() as admin_browser, s.client() as olga_browser, s.client() as anonymous:
            s.login(admin_browser, "admin", ADMIN_PASSWORD)
            admin_token = s.new_token(admin_browser, "crm integration")
            with s.client(token=admin_token) as admin:
                ids = _setup_shop(s, admin, refused_port)
                refused = s.call(
                    anonymous, "POST", "/api/auth/login", json={"login": "olga", "password": WRONG_PASSWORD}
                )
                assert refused.status_code == 401
                s.login(olga_browser, "olga", OLGA_PASSWORD)
                olga_token = s.new_token(olga_browser, "olga's script")
                changed = s.call(
                    admin, "PATCH", f"/api/users/{ids['olga']}", json={"password": OLGA_NEW_PASSWORD}
                )
                assert changed.status_code == 200
                s.login(olga_browser, "olga", OLGA_NEW_PASSWORD)
                _smtp_accounts(s, admin, container, postfix, refused_port)
                with s.client(token=olga_token) as olga:
                    _confirmations(s, container, admin, olga, anonymous, ids)
                    _send_from_the_card(s, admin, olga, olga_browser, ids)
                    _read_everything(s, admin, olga, ids)
                    assert s.call(olga, "DELETE", f"/api/tokens/{_token_id(s, olga)}").status_code == 204
                assert s.call(olga_browser, "POST", "/api/auth/logout").status_code == 204
                assert s.call(admin_browser, "POST", "/api/auth/logout").status_code == 204
    return s


def _setup_shop(s: Session, admin: httpx.Client, refused_port: int) -> dict[str, int]:
    provider = s.call(
        admin,
        "POST",
        "/api/smtp-accounts",
        json={
            "name": "provider",
            "host": "127.0.0.1",
            "port": refused_port,
            "security": "none",
            "username": "robot@store.example.com",
            "password": PROVIDER_PASSWORD,
            "from_filter": "store.example.com",
            "timeout_seconds": 3,
        },
    )
    assert provider.status_code == 201, provider.text
    store = s.call(
        admin,
        "POST",
        "/api/stores",
        json={"code": "romashka", "name": "Ромашка", "sender_email": "shop@store.example.com"},
    )
    assert store.status_code == 201, store.text
    store_id = store.json()["id"]
    olga = s.call(
        admin,
        "POST",
        "/api/users",
        json={
            "login": "olga",
            "name": "Ольга Смирнова",
            "email": "olga@shop.example.com",
            "password": OLGA_PASSWORD,
            "store_ids": [store_id],
        },
    )
    assert olga.status_code == 201, olga.text
    too_short = s.call(
        admin,
        "POST",
        "/api/users",
        json={"login": "petr", "name": "Пётр", "email": "petr@shop.example.com", "password": SHORT_PASSWORD},
    )
    assert too_short.status_code == 422
    customer = s.call(
        admin,
        "POST",
        "/api/customers",
        json={
            "email": "anna@example.ru",
            "first_name": "Анна",
            "manager_id": olga.json()["id"],
            "store_id": store_id,
        },
    )
    assert customer.status_code == 201, customer.text
    return {"olga": olga.json()["id"], "store": store_id, "customer": customer.json()["id"]}


def _smtp_accounts(
    s: Session, admin: httpx.Client, container: Container, postfix: PostfixServer, refused_port: int
) -> None:
    good_user, good_password = next(iter(postfix.users.items()))
    s.secrets["Postfix password"] = good_password
    s.secrets["Postfix non-ASCII password"] = postfix.users[postfix.intl_user]
    accounts = {
        "postfix": (good_user, good_password, "ok"),
        "postfix-intl": (postfix.intl_user, postfix.users[postfix.intl_user], "ok"),
        "postfix-wrong": (good_user, WRONG_SMTP_PASSWORD, "auth"),
    }
    ids = []
    for name, (username, password, _) in accounts.items():
        saved = s.call(
            admin,
            "POST",
            "/api/smtp-accounts",
            json={
                "name": name,
                "host": postfix.host,
                "port": postfix.submission_port,
                "security": "starttls",
                "username": username,
                "password": password,
                "timeout_seconds": 10,
            },
        )
        assert saved.status_code == 201, saved.text
        ids.append(saved.json()["id"])
    # Given inline, as `mailcard send --smtp URL` does: saved as an account of kind "inline".
    inline = container.accounts.save_inline(
        parse_smtp_url(
            f"smtp://robot%40shop.example.com:{quote(INLINE_PASSWORD, safe='')}@127.0.0.1:{refused_port}"
        )
    )
    ids.append(inline.id)
    # An admin pasting a whole URL, password included, where the host goes.
    pasted = s.call(
        admin,
        "POST",
        "/api/smtp-accounts",
        json={
            "name": "pasted",
            "host": f"smtp://robot:{HOST_URL_PASSWORD}@127.0.0.1:{refused_port}",
            "port": refused_port,
            "security": "none",
            "timeout_seconds": 3,
        },
    )
    if pasted.status_code == 201:
        ids.append(pasted.json()["id"])
    else:
        assert pasted.status_code == 422, pasted.text
    provider = next(a for a in s.call(admin, "GET", "/api/smtp-accounts").json() if a["name"] == "provider")
    ids.append(provider["id"])
    outcomes = {}
    for account_id in ids:
        tested = s.call(
            admin,
            "POST",
            f"/api/smtp-accounts/{account_id}/test",
            json={"rcpt_to": postfix.fresh_address()},
        )
        assert tested.status_code == 200, tested.text
        outcomes[account_id] = tested.json()
    assert outcomes[ids[0]]["ok"] is True, outcomes[ids[0]]
    assert outcomes[ids[1]]["ok"] is True, outcomes[ids[1]]
    assert outcomes[ids[2]]["ok"] is False and outcomes[ids[2]]["reason"] == "auth_failed", outcomes[ids[2]]
    assert outcomes[inline.id]["ok"] is False
    for account_id in ids:
        assert s.call(admin, "GET", f"/api/smtp-accounts/{account_id}").json()["has_password"] in (
            True,
            False,
        )


def _confirmations(
    s: Session,
    container: Container,
    admin: httpx.Client,
    olga: httpx.Client,
    anonymous: httpx.Client,
    ids: dict[str, int],
) -> None:
    started = s.call(olga, "POST", "/api/senders/confirmations", json={"kind": "user", "id": ids["olga"]})
    assert started.status_code == 202, started.text
    message = _await_inbox(container, "olga@shop.example.com")
    code = _match(r"code: (\d{6})", message)
    s.codes.append(code)
    wrong = "000000" if code != "000000" else "111111"
    refused = s.call(
        olga,
        "POST",
        "/api/senders/confirmations/code",
        json={"kind": "user", "id": ids["olga"], "code": wrong},
    )
    assert refused.status_code == 422
    confirmed = s.call(
        olga,
        "POST",
        "/api/senders/confirmations/code",
        json={"kind": "user", "id": ids["olga"], "code": code},
    )
    assert confirmed.status_code == 200, confirmed.text

    started = s.call(admin, "POST", "/api/senders/confirmations", json={"kind": "store", "id": ids["store"]})
    assert started.status_code == 202, started.text
    message = _await_inbox(container, "shop@store.example.com")
    s.codes.append(_match(r"code: (\d{6})", message))
    token = _match(r"/api/senders/confirm\?token=(\S+)", message)
    assert s.call(anonymous, "GET", f"/api/senders/confirm?token={token}").status_code == 200
    assert s.call(anonymous, "POST", "/api/senders/confirm", data={"token": token}).status_code == 200


def _send_from_the_card(
    s: Session, admin: httpx.Client, olga: httpx.Client, olga_browser: httpx.Client, ids: dict[str, int]
) -> None:
    customer = ids["customer"]
    body = {
        "from": "manager",
        "subject": "{{ customer.firstName }}, ваш заказ готов",
        "html": "<p>Здравствуйте, {{ customer.firstName }}!</p>",
    }
    assert s.call(olga, "POST", f"/api/customers/{customer}/emails/preview", json=body).status_code == 200
    assert s.call(olga, "POST", f"/api/customers/{customer}/emails/test", json=body).status_code == 202
    delivered = s.call(olga_browser, "POST", f"/api/customers/{customer}/emails", json=body)
    assert delivered.status_code == 202, delivered.text
    # From the store: through "provider", whose server refuses connections.
    failing = s.call(admin, "POST", f"/api/customers/{customer}/emails", json={**body, "from": "store"})
    assert failing.status_code == 202, failing.text
    _await(
        lambda: (
            s.call(olga, "GET", f"/api/messages/{delivered.json()['message_id']}").json()["status"] == "sent"
        )
    )
    _await(
        lambda: (
            s.call(admin, "GET", f"/api/messages/{failing.json()['message_id']}").json()["attempt_count"] > 0
        )
    )


def _read_everything(s: Session, admin: httpx.Client, olga: httpx.Client, ids: dict[str, int]) -> None:
    for client in (admin, olga):
        for path in (
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/api/me",
            "/api/tokens",
            f"/api/users/{ids['olga']}",
            "/api/customers",
            f"/api/customers/{ids['customer']}",
            f"/api/customers/{ids['customer']}/senders",
            f"/api/customers/{ids['customer']}/emails",
            "/api/stores",
            f"/api/stores/{ids['store']}",
            "/api/templates",
            "/api/sender-addresses",
        ):
            response = s.call(client, "GET", path)
            assert response.status_code == 200, f"{path}: {response.text}"
        for item in s.call(client, "GET", f"/api/customers/{ids['customer']}/emails").json()["items"]:
            assert s.call(client, "GET", f"/api/messages/{item['id']}").status_code == 200
    assert s.call(admin, "GET", "/api/users").status_code == 200
    for account in s.call(admin, "GET", "/api/smtp-accounts").json():
        assert s.call(admin, "GET", f"/api/smtp-accounts/{account['id']}").status_code == 200


def _token_id(s: Session, client: httpx.Client) -> int:
    tokens = s.call(client, "GET", "/api/tokens").json()
    return int(next(t["id"] for t in tokens if not t["revoked"]))


def _await(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _await_inbox(container: Container, recipient: str) -> str:
    """The plain-text body of the newest captured message to ``recipient``."""
    found: list[str] = []

    def arrived() -> bool:
        for captured in container.devinbox.list():
            if recipient in captured.recipients:
                _, raw = container.devinbox.get(captured.id)
                message = email.message_from_bytes(raw, policy=email.policy.default)
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                found.append(str(body.get_content()))
                return True
        return False

    _await(arrived)
    return found[0]


def _match(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, text
    return found.group(1)


def _secrets_of(session: Session, container: Container) -> dict[str, str]:
    secrets = dict(session.secrets)
    secrets.update(
        {
            "admin password": ADMIN_PASSWORD,
            "olga's first password": OLGA_PASSWORD,
            "olga's new password": OLGA_NEW_PASSWORD,
            "a wrong password typed at login": WRONG_PASSWORD,
            "a refused short password": SHORT_PASSWORD,
            "SMTP password (provider)": PROVIDER_PASSWORD,
            "SMTP password (wrong)": WRONG_SMTP_PASSWORD,
            "SMTP password (inline)": INLINE_PASSWORD,
            "SMTP password (pasted in the host)": HOST_URL_PASSWORD,
            "Fernet key": container.settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        }
    )
    return secrets


def _forms(secret: str) -> set[str]:
    """The secret as it could show up: as is, URL-encoded, and base64 as SMTP AUTH sends it."""
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    for data in (raw, b"\0" + raw):
        forms.add(base64.b64encode(data).decode())
    return {f for f in forms if len(f) >= 5}


def _has_code(text: str, code: str) -> bool:
    # Not preceded by "." or a digit: a timestamp's microseconds are not a leaked code.
    return re.search(rf"(?<![\d.]){code}(?!\d)", text) is not None


def _response_text(response: httpx.Response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
    return f"{response.request.method} {response.request.url}\n{headers}\n\n{response.text}"


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


def _check_secrets_at_rest(container: Container, session: Session) -> None:
    database = container.settings.resolved_database_url().removeprefix("sqlite:///")
    container.dispose()
    with sqlite3.connect(database) as conn:
        dump = "\n".join(conn.iterdump())
        stored = dict(conn.execute("SELECT name, password_encrypted FROM smtp_accounts").fetchall())
        token_hashes = {row[0] for row in conn.execute("SELECT token_hash FROM api_tokens")}
        password_hashes = [row[0] for row in conn.execute("SELECT password_hash FROM users")]
    plaintexts = {
        name: secret
        for name, secret in _secrets_of(session, container).items()
        if not name.startswith("Fernet")
    }
    for name, secret in plaintexts.items():
        assert secret not in dump, f"{name} stored in the clear"
    assert container.settings.secret_key.get_secret_value() not in dump  # type: ignore[union-attr]
    for name in ("provider", "postfix", "postfix-wrong"):
        assert stored[name].startswith("fernet:"), name
        assert container.secrets.decrypt(stored[name]).reveal() in plaintexts.values()
    for name, secret in session.secrets.items():
        if name.startswith("API token"):
            assert digest(secret) in token_hashes, name
    assert all(h is None or h.startswith("$argon2") for h in password_hashes)
