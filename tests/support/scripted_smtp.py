"""A scripted SMTP server for tests: an in-process asyncio server on a free loopback port.

It owns the failures a real Postfix will not produce on demand: a 421 greeting, a reply that
never comes, garbage bytes, a disconnect during DATA, 452 at RCPT, a server without SMTPUTF8,
a server that closes idle connections. It behaves like a small, well-mannered submission server
by default (EHLO with PIPELINING, SMTPUTF8, SIZE, 8BITMIME, AUTH PLAIN LOGIN; optional STARTTLS or
implicit TLS) and records everything the client sent.

Script it per test::

    async with ScriptedSmtpServer(users={"u": "pässword"}) as server:
        server.on("RCPT", "452 4.5.3 Too many recipients", match="c@")
        server.on("DATA_END", CLOSE)          # drop the connection after the body, before the reply
        ...
        assert server.messages[0].data == b"..."

Verbs: ``GREETING``, ``EHLO``, ``HELO``, ``STARTTLS``, ``AUTH``, ``MAIL``, ``RCPT``, ``DATA`` (the
354 step), ``DATA_END`` (the reply after the body), ``RSET``, ``NOOP``, ``QUIT``. An action is a
reply line(s) as text, :data:`HANG` (read, never answer), :data:`CLOSE` (close without a reply)
or :class:`Garbage` (raw bytes).

Also here: :func:`make_test_pki`, a throwaway CA and server certificate for ``localhost`` /
``127.0.0.1``. Nothing here imports mailcard; this is the other side of the wire.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final

__all__ = [
    "CLOSE",
    "HANG",
    "Action",
    "Garbage",
    "ReceivedMessage",
    "ScriptedSmtpServer",
    "Session",
    "TestPki",
    "make_test_pki",
]

LOOPBACK: Final = "127.0.0.1"
DEFAULT_EXTENSIONS: Final = ("PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8", "AUTH PLAIN LOGIN")


class _Hang:
    def __repr__(self) -> str:
        return "HANG"


class _Close:
    def __repr__(self) -> str:
        return "CLOSE"


HANG: Final = _Hang()
CLOSE: Final = _Close()


@dataclass(frozen=True)
class Garbage:
    data: bytes


Action = str | _Hang | _Close | Garbage


@dataclass
class ReceivedMessage:
    mail_from: str
    mail_options: list[str]
    rcpt_to: list[str]
    data: bytes


@dataclass
class Session:
    """One client connection as the server saw it."""

    number: int
    commands: list[str] = field(default_factory=list)
    tls: bool = False
    ehlo_name: str | None = None
    auth_mechanism: str | None = None
    auth_username: str | None = None
    auth_password: str | None = None
    authenticated: bool = False
    messages: list[ReceivedMessage] = field(default_factory=list)
    closed: bool = False
    writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    @property
    def verbs(self) -> list[str]:
        return [c.split(" ", 1)[0].upper() for c in self.commands]


@dataclass
class _Rule:
    verb: str
    action: Action
    times: int | None
    match: str | None


@dataclass(frozen=True)
class TestPki:
    __test__ = False  # not a pytest test class
    ca_file: str
    cert_file: str
    key_file: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


class ScriptedSmtpServer:
    """See the module docstring. Use as ``async with``; ``host``/``port`` are set once started."""

    def __init__(
        self,
        *,
        greeting: Action = "220 scripted.test ESMTP ready",
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        users: Mapping[str, str] | None = None,
        require_auth: bool | None = None,
        pki: TestPki | None = None,
        implicit_tls: bool = False,
        reply_delay: float = 0.0,
    ) -> None:
        self.host = LOOPBACK
        self.port = 0
        self.greeting = greeting
        self.extensions = list(extensions)
        self.users = dict(users or {})
        self.require_auth = bool(self.users) if require_auth is None else require_auth
        self.pki = pki
        self.implicit_tls = implicit_tls
        # Simulated network latency before each reply, for the pipelining measurement.
        self.reply_delay = reply_delay
        self.sessions: list[Session] = []
        self._rules: list[_Rule] = []
        self._server: asyncio.Server | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._queue_id = 0

    # -- scripting --------------------------------------------------------------------------------

    def on(self, verb: str, action: Action, *, times: int | None = 1, match: str | None = None) -> None:
        """The next ``times`` (None: all) ``verb`` commands whose line contains ``match`` get ``action``."""
        self._rules.append(_Rule(verb.upper(), action, times, match))

    @property
    def messages(self) -> list[ReceivedMessage]:
        return [m for s in self.sessions for m in s.messages]

    @property
    def open_sessions(self) -> list[Session]:
        return [s for s in self.sessions if not s.closed]

    async def close_connections(
        self, farewell: str | None = "421 4.4.2 scripted.test Error: timeout exceeded"
    ) -> None:
        """Close every open connection from the server side, as an idle timeout would."""
        for session in self.open_sessions:
            writer = session.writer
            if writer is None:
                continue
            with contextlib.suppress(Exception):
                if farewell:
                    writer.write(farewell.encode() + b"\r\n")
                    await writer.drain()
                writer.close()
            session.closed = True

    # -- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> ScriptedSmtpServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        ssl_context = None
        if self.implicit_tls:
            assert self.pki is not None, "implicit_tls needs a pki"
            ssl_context = self.pki.server_context()
        self._server = await asyncio.start_server(self._handle, LOOPBACK, 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        for session in self.sessions:
            if session.writer is not None:
                # abort, not close: a connection stuck in a TLS handshake never finishes closing.
                session.writer.transport.abort()
        if self._tasks:
            # Handlers end by themselves once their transport is aborted (cancelling them makes
            # asyncio log noise); cancel only what is still stuck after a deadline.
            _, stuck = await asyncio.wait(set(self._tasks), timeout=2)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.gather(*stuck, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)

    # -- the conversation -------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        session = Session(number=len(self.sessions) + 1, tls=self.implicit_tls, writer=writer)
        self.sessions.append(session)
        try:
            await self._converse(session, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            session.closed = True
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=1)
            self._tasks.discard(task)

    async def _converse(
        self, session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not await self._act(writer, self._scripted("GREETING", "") or self.greeting):
            return
        mail_from: str | None = None
        mail_options: list[str] = []
        rcpts: list[str] = []
        while True:
            raw = await reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
            session.commands.append(line)
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            scripted = self._scripted(verb, line)
            if scripted is not None and verb not in ("DATA", "STARTTLS", "AUTH"):
                if not await self._act(writer, scripted):
                    return
                if verb == "MAIL" and isinstance(scripted, str) and scripted.startswith("2"):
                    mail_from, mail_options, rcpts = _address(arg), _options(arg), []
                if verb == "RCPT" and isinstance(scripted, str) and scripted.startswith("2"):
                    rcpts.append(_address(arg))
                continue

            if verb in ("EHLO", "HELO"):
                session.ehlo_name = arg
                mail_from, rcpts = None, []
                await self._reply(
                    writer, self._ehlo_reply(session) if verb == "EHLO" else "250 scripted.test"
                )
            elif verb == "STARTTLS":
                if scripted is not None:
                    if not await self._act(writer, scripted):
                        return
                    continue
                if self.pki is None or session.tls:
                    await self._reply(writer, "502 5.5.1 Error: command not implemented")
                    continue
                await self._reply(writer, "220 2.0.0 Ready to start TLS")
                await writer.start_tls(self.pki.server_context())
                session.tls = True
                session.ehlo_name, mail_from, rcpts = None, None, []
            elif verb == "AUTH":
                if scripted is not None:
                    if not await self._act(writer, scripted):
                        return
                    continue
                await self._auth(session, arg, reader, writer)
            elif verb == "MAIL":
                if self.require_auth and not session.authenticated:
                    await self._reply(writer, "530 5.7.0 Authentication required")
                    continue
                mail_from, mail_options, rcpts = _address(arg), _options(arg), []
                await self._reply(writer, "250 2.1.0 Ok")
            elif verb == "RCPT":
                if mail_from is None:
                    await self._reply(writer, "503 5.5.1 Error: need MAIL command")
                    continue
                rcpts.append(_address(arg))
                await self._reply(writer, "250 2.1.5 Ok")
            elif verb == "DATA":
                if scripted is not None:
                    if not await self._act(writer, scripted):
                        return
                    continue
                if not rcpts or mail_from is None:
                    await self._reply(writer, "554 5.5.1 Error: no valid recipients")
                    continue
                await self._reply(writer, "354 End data with <CR><LF>.<CR><LF>")
                data = await _read_data(reader)
                message = ReceivedMessage(mail_from, mail_options, rcpts, data)
                end = self._scripted("DATA_END", line)
                if end is not None:
                    if isinstance(end, str) and end.startswith("2"):
                        session.messages.append(message)
                    if not await self._act(writer, end):
                        return
                else:
                    session.messages.append(message)
                    self._queue_id += 1
                    await self._reply(writer, f"250 2.0.0 Ok: queued as Q{self._queue_id}")
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                await self._reply(writer, "250 2.0.0 Ok")
            elif verb == "NOOP":
                await self._reply(writer, "250 2.0.0 Ok")
            elif verb == "QUIT":
                await self._reply(writer, "221 2.0.0 Bye")
                return
            else:
                await self._reply(writer, "502 5.5.2 Error: command not recognized")

    async def _auth(
        self, session: Session, arg: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        mechanism, _, initial = arg.partition(" ")
        mechanism = mechanism.upper()
        session.auth_mechanism = mechanism
        try:
            if mechanism == "PLAIN":
                if not initial:
                    await self._reply(writer, "334 ")
                    initial = (await reader.readline()).decode().strip()
                _, user_b, password_b = base64.b64decode(initial, validate=True).split(b"\0", 2)
            elif mechanism == "LOGIN":
                if not initial:
                    await self._reply(writer, "334 VXNlcm5hbWU6")
                    initial = (await reader.readline()).decode().strip()
                user_b = base64.b64decode(initial, validate=True)
                await self._reply(writer, "334 UGFzc3dvcmQ6")
                password_b = base64.b64decode((await reader.readline()).decode().strip(), validate=True)
            else:
                await self._reply(writer, "504 5.5.4 Unrecognized authentication type")
                return
            user, password = user_b.decode("utf-8"), password_b.decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            await self._reply(writer, "501 5.5.2 Invalid base64 data")
            return
        session.auth_username, session.auth_password = user, password
        if self.users.get(user) == password:
            session.authenticated = True
            await self._reply(writer, "235 2.7.0 Authentication successful")
        else:
            await self._reply(writer, "535 5.7.8 Error: authentication failed: authentication failure")

    def _ehlo_reply(self, session: Session) -> str:
        extensions = list(self.extensions)
        if self.pki is not None and not session.tls and not self.implicit_tls:
            extensions.append("STARTTLS")
        lines = ["scripted.test", *extensions]
        return "\r\n".join(f"250{'-' if i < len(lines) - 1 else ' '}{text}" for i, text in enumerate(lines))

    def _scripted(self, verb: str, line: str) -> Action | None:
        for rule in self._rules:
            if rule.verb != verb or (rule.match is not None and rule.match not in line):
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
            return rule.action
        return None

    async def _act(self, writer: asyncio.StreamWriter, action: Action) -> bool:
        """Perform ``action``; False means the conversation is over."""
        if isinstance(action, _Hang):
            await self._stopping.wait()
            return False
        if isinstance(action, _Close):
            writer.close()
            return False
        if isinstance(action, Garbage):
            writer.write(action.data)
            await writer.drain()
            return True
        await self._reply(writer, action)
        return not action.startswith("221") and not action.startswith("421")

    async def _reply(self, writer: asyncio.StreamWriter, text: str) -> None:
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)  # simulated latency, not a wait for readiness
        lines = text.replace("\r\n", "\n").split("\n")
        writer.write("".join(f"{line}\r\n" for line in lines).encode("utf-8"))
        await writer.drain()


async def _read_data(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(bytes(body), None)
        if line == b".\r\n":
            return bytes(body)
        body += line[1:] if line.startswith(b".") else line


def _address(arg: str) -> str:
    start, end = arg.find("<"), arg.find(">")
    return arg[start + 1 : end] if start != -1 and end > start else arg.partition(":")[2].strip()


def _options(arg: str) -> list[str]:
    end = arg.find(">")
    return arg[end + 1 :].split() if end != -1 else []


def make_test_pki(directory: Path, *, host: str = "localhost") -> TestPki:
    """A throwaway CA and a server certificate for ``host`` and 127.0.0.1 (PEM files in ``directory``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scripted-smtp test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return TestPki(str(ca_file), str(cert_file), str(key_file))
