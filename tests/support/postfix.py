"""A private, real Postfix + Dovecot (SASL) instance for tests (pytest-independent).

This module owns :class:`PostfixServer` and :func:`start_postfix`.  At start it

* creates a temp dir holding everything: Postfix config/queue/data dirs, the
  Dovecot config and runtime dir, the Maildirs, TLS material and logs;
* makes a throwaway CA and a ``localhost``/``127.0.0.1`` server certificate
  with the ``cryptography`` package (tests verify TLS against ``ca_file``);
* starts Dovecot in the foreground (auth service only; its ``auth-client``
  socket is Postfix's SASL backend) and ``postfix -c DIR start``;
* listens on three free loopback ports:

  ``submission_port``  STARTTLS required before AUTH; AUTH required (530);
  ``smtps_port``       implicit TLS (``smtpd_tls_wrappermode``), AUTH required;
  ``plain_port``       no TLS at all; AUTH offered in clear text; unauthenticated
                       mail only to the local domain (relay 554).

Every recipient (local domain *and* "relayed" foreign domains, which
authenticated users may send to) is delivered by Postfix's ``virtual`` agent
into one Maildir, ``DIR/mail/all/``; :meth:`PostfixServer.messages` picks a
recipient's files by the ``Delivered-To`` header the agent prepends, so tests
read exactly what the server stored.  Nothing ever leaves 127.0.0.1: there
is no DNS and no outbound SMTP transport.

Requires root (Postfix's master and the virtual delivery agent need it).
See docs/testing.md for the policy table and lessons learned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import ipaddress
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.postfix_tools import (
    LOOPBACK,
    MissingBinaryError,
    Reaper,
    find_binary,
    free_ports,
    port_open,
    stop_process,
    wait_for,
)

LOCAL_DOMAIN = "mailcard.test"
MESSAGE_SIZE_LIMIT = 200 * 1024

# login -> password.  The login is also the only envelope sender the user may use.
DEFAULT_USERS: dict[str, str] = {
    f"sender@{LOCAL_DOMAIN}": "correct horse",
    f"other@{LOCAL_DOMAIN}": "battery staple",
    # Non-ASCII password: SASL PLAIN carries UTF-8; stdlib smtplib cannot send it.
    f"intl@{LOCAL_DOMAIN}": "пароль-密码",
}
REJECT_ADDRESS = f"reject@{LOCAL_DOMAIN}"  # 550 5.1.1 at RCPT
DEFER_ADDRESS = f"defer@{LOCAL_DOMAIN}"  # 450 4.2.1 at RCPT

# Postfix's Maildir file names: <secs>.V<dev>I<inode>M<usecs>.<host>[,S=..]
_MAILDIR_NAME = re.compile(r"^(\d+)\.V[0-9a-fA-F]+I[0-9a-fA-F]+M(\d+)\.")
# The virtual agent prepends "Delivered-To: <recipient>" to each copy.
_DELIVERED_TO = re.compile(rb"^Delivered-To: *(.+?)\r?$", re.MULTILINE | re.IGNORECASE)


@dataclass
class PostfixServer:
    """Handle on a running private Postfix + Dovecot; see module docstring."""

    host: str
    submission_port: int
    smtps_port: int
    plain_port: int
    ca_file: Path
    users: dict[str, str]
    local_domain: str
    reject_address: str
    defer_address: str
    message_size_limit: int
    base_dir: Path
    # A CA that did NOT sign the server certificate: verification must fail with it.
    wrong_ca_file: Path
    start_seconds: float = 0.0
    _dovecot: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _started: bool = field(default=False, repr=False)
    _recipients: dict[str, str] = field(default_factory=dict, repr=False)
    _reaper: Reaper | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- paths/info
    @property
    def config_dir(self) -> Path:
        return self.base_dir / "postfix"

    @property
    def mail_dir(self) -> Path:
        return self.base_dir / "mail"

    @property
    def maillog(self) -> Path:
        return self.base_dir / "maillog"

    @property
    def dovecot_log(self) -> Path:
        return self.base_dir / "dovecot.log"

    @property
    def sender(self) -> str:
        """The default authenticated user (login == its only allowed envelope sender)."""
        return f"sender@{self.local_domain}"

    @property
    def intl_user(self) -> str:
        """The user whose password is non-ASCII."""
        return f"intl@{self.local_domain}"

    def describe(self) -> str:
        return (
            f"submission={self.host}:{self.submission_port} smtps={self.host}:{self.smtps_port} "
            f"plain={self.host}:{self.plain_port} dir={self.base_dir}"
        )

    def fresh_address(self, prefix: str = "rcpt") -> str:
        """A never-used local address, so tests sharing the session server don't see each other's mail."""
        return f"{prefix}-{uuid.uuid4().hex[:12]}@{self.local_domain}"

    def log_tail(self, lines: int = 60) -> str:
        """Last lines of the Postfix and Dovecot logs (for assertion messages)."""
        out = []
        for path in (self.maillog, self.dovecot_log):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(out)

    # ------------------------------------------------------------------ mailboxes
    @property
    def maildir(self) -> Path:
        """The single catch-all Maildir every recipient is delivered to."""
        return self.mail_dir / "all"

    def _recipient_of(self, path: Path) -> str:
        """The Delivered-To address Postfix's virtual agent prepended (cached per file)."""
        cached = self._recipients.get(path.name)
        if cached is None:
            with open(path, "rb") as fh:
                head = fh.read(4096)
            match = _DELIVERED_TO.search(head)
            cached = match.group(1).decode("utf-8", "replace").strip().lower() if match else ""
            self._recipients[path.name] = cached
        return cached

    def _files(self) -> list[Path]:
        files: list[tuple[tuple[int, int, int, str], Path]] = []
        for sub in ("new", "cur"):
            directory = self.maildir / sub
            if not directory.is_dir():
                continue
            for path in directory.iterdir():
                match = _MAILDIR_NAME.match(path.name)
                if match:
                    key = (int(match.group(1)), int(match.group(2)), 0, path.name)
                else:
                    key = (0, 0, path.stat().st_mtime_ns, path.name)
                files.append((key, path))
        return [path for _, path in sorted(files)]

    def messages(self, address: str) -> list[bytes]:
        """Raw Maildir files delivered to *address*, in delivery order.

        Bytes are exactly as stored: LF line endings, Postfix's Return-Path,
        Delivered-To and Received headers prepended to the message as sent.
        *address* is compared case-insensitively.
        """
        wanted = address.strip().strip("<>").lower()
        return [path.read_bytes() for path in self._files() if self._recipient_of(path) == wanted]

    def all_messages(self) -> list[tuple[str, bytes]]:
        """(recipient, raw bytes) for every delivered message, in delivery order."""
        return [(self._recipient_of(path), path.read_bytes()) for path in self._files()]

    def wait_for_messages(self, address: str, count: int, timeout: float = 10.0) -> list[bytes]:
        """Poll until *address* has at least *count* messages; return them (TimeoutError otherwise)."""
        try:
            wait_for(
                lambda: len(self.messages(address)) >= count, timeout, f"{count} message(s) for {address}"
            )
        except TimeoutError as exc:
            have = len(self.messages(address))
            raise TimeoutError(f"{exc} (have {have})\n{self.log_tail()}") from None
        return self.messages(address)

    def clear(self) -> None:
        """Delete every delivered message."""
        for sub in ("new", "cur", "tmp"):
            directory = self.maildir / sub
            if directory.is_dir():
                for path in directory.iterdir():
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        self._recipients.clear()

    # ------------------------------------------------------------------ lifecycle
    def _stop_postfix(self) -> None:
        # Not "postfix stop": it polls the master with `sleep 1` (>= 1 s per
        # session).  "abort" SIGTERMs the master, which takes its process group
        # down; we poll for the master's exit with a deadline instead.
        pid_file = self.base_dir / "queue" / "pid" / "master.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        with open(self.base_dir / "commands.log", "ab") as log:
            subprocess.run(
                [find_binary("postfix"), "-c", str(self.config_dir), "abort"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if pid is None:
            return
        try:
            wait_for(lambda: not _alive(pid), 5.0, "the Postfix master to exit")
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop Postfix and Dovecot and remove the temp dir."""
        if self._started:
            self._stop_postfix()
            self._started = False
        if self._dovecot is not None:
            # Dovecot's graceful SIGTERM shutdown takes ~1 s; nothing here needs
            # preserving, so kill its whole process group (it leads a session).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._dovecot.pid, signal.SIGKILL)
            stop_process(self._dovecot)
            self._dovecot = None
        shutil.rmtree(self.base_dir, ignore_errors=True)
        if self._reaper is not None:
            self._reaper.disarm()
            self._reaper = None


def _alive(pid: int) -> bool:
    """True while *pid* runs (a zombie left for init to reap counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


# ============================================================================ TLS


def _write_tls(tls_dir: Path) -> tuple[Path, Path, Path, Path]:
    """Make CA + server cert (localhost, 127.0.0.1) and an unrelated CA.

    Returns (ca_file, cert_file, key_file, wrong_ca_file).  EC P-256 keys: fast
    to generate.  Extensions (SKI/AKI, key usage, critical basic constraints)
    are set so OpenSSL's strict X.509 checks accept the chain.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def make_ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    ca_key, ca_cert = make_ca("mailcard test CA")
    _wrong_key, wrong_cert = make_ca("mailcard test CA")  # same name, different key: must still fail

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    tls_dir.mkdir(mode=0o755)
    pem = serialization.Encoding.PEM
    ca_file = tls_dir / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    wrong_ca_file = tls_dir / "wrong-ca.pem"
    wrong_ca_file.write_bytes(wrong_cert.public_bytes(pem))
    cert_file = tls_dir / "server.pem"
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file = tls_dir / "server.key"
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)  # smtpd reads it while still root
    return ca_file, cert_file, key_file, wrong_ca_file


# ======================================================================== configs


def _dovecot_conf(base: Path, users_file: Path, mail_uid: int, mail_gid: int) -> str:
    run = base / "dovecot-run"
    return f"""\
# Auth-only Dovecot: no IMAP/POP, just the SASL socket Postfix uses.
instance_name = mailcard-test-{base.name}
base_dir = {run}
state_dir = {base / "dovecot-state"}
protocols = none
listen = {LOOPBACK}
ssl = no
log_path = {base / "dovecot.log"}
info_log_path = {base / "dovecot.log"}
default_internal_user = dovecot
default_login_user = dovenull
# Postfix marks TLS sessions "secured"; the plain port must still be able to AUTH.
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong-password replies would otherwise take 2 s (+ anvil penalty up to 15 s).
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
auth_username_format = %Lu
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {users_file}
  result_failure = continue-fail
}}
# Dovecot queues failures on a 500 ms timer unless the reply carries "nodelay",
# and a failing passdb's fields are rolled back.  So wrong passwords fall
# through to this passdb, which "succeeds" with nologin + nodelay: an immediate
# authentication failure (535 at Postfix).
passdb {{
  driver = static
  args = nopassword=y nologin=y nodelay=y reason=invalid-credentials
  result_success = return-fail
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={base / "home"}/%u
}}
service auth {{
  unix_listener auth-client {{
    mode = 0666
  }}
}}
service anvil {{
  # No penalty socket -> the auth process disables per-IP auth penalties.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _main_cf(
    base: Path, tls: tuple[Path, Path, Path, Path], mail_uid: int, mail_gid: int, ports: list[int]
) -> str:
    _ca, cert, key, _wrong = tls
    cfg = base / "postfix"
    return f"""\
compatibility_level = 3.6
config_directory = {cfg}
queue_directory = {base / "queue"}
data_directory = {base / "data"}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-mailcard-{ports[0]}
maillog_file = {base / "maillog"}
maillog_file_prefixes = {base}

myhostname = mx.{LOCAL_DOMAIN}
mydomain = {LOCAL_DOMAIN}
myorigin = $myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = {LOOPBACK}
inet_protocols = ipv4
# Only meaningful where a service says permit_mynetworks (none do by default).
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP mailcard-test
biff = no
append_dot_mydomain = no
# Keep messages byte-identical: no header address rewriting for loopback clients.
local_header_rewrite_clients =
disable_mime_output_conversion = yes
smtputf8_enable = yes

# No DNS at all: every destination is delivered locally below.
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no

# Every recipient, local or "relayed", lands in DIR/mail/<domain>/<local>/.
virtual_mailbox_domains = {LOCAL_DOMAIN}
virtual_mailbox_base = {base / "mail"}
# One catch-all Maildir ("all/"): the virtual agent refuses $1 substitution
# in maps (it would let addresses choose paths), so messages() filters by
# the Delivered-To header instead of by directory.
virtual_mailbox_maps = static:all/
virtual_uid_maps = static:{mail_uid}
virtual_gid_maps = static:{mail_gid}
virtual_minimum_uid = 1
default_transport = virtual
relay_transport = virtual
message_size_limit = {MESSAGE_SIZE_LIMIT}
virtual_mailbox_limit = 0
mailbox_size_limit = 0

# Speed: no tarpitting or flow-control delays in tests.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
in_flow_delay = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_auth_rate_limit = 0
smtpd_client_new_tls_session_rate_limit = 0

# TLS (each service chooses its level in master.cf).
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_session_cache_database =
smtpd_tls_loglevel = 0
smtpd_tls_received_header = no

# SASL through Dovecot's auth socket (enabled per service in master.cf).
smtpd_sasl_type = dovecot
smtpd_sasl_path = {base / "dovecot-run" / "auth-client"}
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_sasl_authenticated_header = no
broken_sasl_auth_clients = no

# A user may only send as their own address (553 5.7.1 otherwise).
smtpd_sender_login_maps = texthash:{cfg / "sender_logins"}
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{cfg / "recipient_access"}
smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch
# Used by the submission/smtps services: no AUTH -> 530 at MAIL FROM.
mailcard_auth_sender_restrictions = reject_authenticated_sender_login_mismatch,
    permit_sasl_authenticated, check_client_access regexp:{cfg / "auth_required.regexp"}
mailcard_auth_relay_restrictions = permit_sasl_authenticated, reject
"""


def _master_cf(submission: int, smtps: int, plain: int) -> str:
    auth_service = (
        "  -o smtpd_sasl_auth_enable=yes\n"
        "  -o smtpd_delay_reject=no\n"
        "  -o smtpd_sender_restrictions=$mailcard_auth_sender_restrictions\n"
        "  -o smtpd_relay_restrictions=$mailcard_auth_relay_restrictions\n"
    )
    return f"""\
# service type  private unpriv  chroot  wakeup  maxproc command
{LOOPBACK}:{submission} inet n - n - - smtpd
  -o syslog_name=postfix-mailcard/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
{auth_service}{LOOPBACK}:{smtps} inet n - n - - smtpd
  -o syslog_name=postfix-mailcard/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
{auth_service}{LOOPBACK}:{plain} inet n - n - - smtpd
  -o syslog_name=postfix-mailcard/plain
  -o smtpd_tls_security_level=none
  -o smtpd_tls_auth_only=no
  -o smtpd_sasl_auth_enable=yes
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def _write_postfix_tables(cfg: Path, users: dict[str, str], reject: str, defer: str) -> None:
    (cfg / "sender_logins").write_text("".join(f"{login}\t{login}\n" for login in users), encoding="utf-8")
    (cfg / "recipient_access").write_text(
        f"{reject}\t550 5.1.1 <{reject}>: Recipient address rejected: mailbox unavailable (test)\n"
        f"{defer}\t450 4.2.1 <{defer}>: Recipient address rejected: try again later (test)\n",
        encoding="utf-8",
    )
    (cfg / "auth_required.regexp").write_text("/./\t530 5.7.0 Authentication required\n", encoding="utf-8")


# ========================================================================== start


def _prepare_queue(base: Path) -> bool:
    """Create the queue/data directories as ``post-install create-missing`` would.

    Returns True when done, so ``postfix start`` may skip its integrity checks
    (``quick-start`` marker): those checks (post-install, postsuper, find over
    the queue) take ~2 s, most of the fixture's start time.  The layout comes
    from Postfix's own ``postfix-files`` so it tracks the installed version.
    """
    spec = Path("/etc/postfix/postfix-files")
    if not spec.is_file():
        return False
    ids = {
        "$mail_owner": pwd.getpwnam("postfix").pw_uid,
        "root": 0,
    }
    gids = {"-": -1, "$setgid_group": grp.getgrnam("postdrop").gr_gid}
    roots = {"$queue_directory": base / "queue", "$data_directory": base / "data"}
    for line in spec.read_text().splitlines():
        fields = line.split(":")
        if len(fields) < 5 or fields[1] != "d":
            continue
        root, _, rest = fields[0].partition("/")
        if root not in roots or fields[2] not in ids or fields[3] not in gids:
            continue
        path = roots[root] / rest if rest else roots[root]
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, ids[fields[2]], gids[fields[3]])
        path.chmod(int(fields[4], 8))
    (base / "queue" / "quick-start").touch()
    return True


def _run_logged(args: list[str], log_path: Path, what: str) -> None:
    with open(log_path, "ab") as log:
        # A file, not a pipe: daemons forked by these commands inherit stdout.
        done = subprocess.run(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({done.returncode}); see {log_path}:\n{log_path.read_text()[-3000:]}"
        )


def start_postfix(
    users: dict[str, str] | None = None, *, base_parent: Path | None = None, timeout: float = 20.0
) -> PostfixServer:
    """Start a private Postfix + Dovecot on free loopback ports and return its handle.

    The caller must call :meth:`PostfixServer.stop`.  Raises
    :class:`MissingBinaryError` when postfix/dovecot are not installed.  A
    failed start is retried with new ports: between choosing a free port and
    Postfix binding it, a concurrent test run may have taken it.
    """
    for attempt in range(3):
        try:
            return _start_postfix_once(users, base_parent=base_parent, timeout=timeout)
        except (RuntimeError, TimeoutError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _start_postfix_once(
    users: dict[str, str] | None, *, base_parent: Path | None, timeout: float
) -> PostfixServer:
    started = time.perf_counter()
    postfix = find_binary("postfix")
    dovecot = find_binary("dovecot")
    if os.geteuid() != 0:
        raise MissingBinaryError("the Postfix fixture must run as root (Postfix master + virtual delivery)")
    users = dict(DEFAULT_USERS if users is None else users)

    base = Path(tempfile.mkdtemp(prefix="mailcard-postfix-", dir=base_parent))
    base.chmod(0o755)  # postfix/dovecot users must traverse it
    nobody = pwd.getpwnam("nobody")
    mail_uid, mail_gid = nobody.pw_uid, nobody.pw_gid
    tls = _write_tls(base / "tls")
    ca_file, _cert, _key, wrong_ca = tls
    submission, smtps, plain = free_ports(3)
    server = PostfixServer(
        host=LOOPBACK,
        submission_port=submission,
        smtps_port=smtps,
        plain_port=plain,
        ca_file=ca_file,
        users=users,
        local_domain=LOCAL_DOMAIN,
        reject_address=REJECT_ADDRESS,
        defer_address=DEFER_ADDRESS,
        message_size_limit=MESSAGE_SIZE_LIMIT,
        base_dir=base,
        wrong_ca_file=wrong_ca,
    )
    try:
        # --- Dovecot (auth only)
        users_file = base / "dovecot-users"
        users_file.write_text(
            "".join(f"{login}:{{PLAIN}}{password}::::::nodelay=y\n" for login, password in users.items()),
            encoding="utf-8",
        )
        users_file.chmod(0o644)  # read by the auth process running as user "dovecot"
        (base / "home").mkdir()
        dovecot_conf = base / "dovecot.conf"
        dovecot_conf.write_text(_dovecot_conf(base, users_file, mail_uid, mail_gid), encoding="utf-8")
        with open(base / "dovecot.stdout", "wb") as out:
            # Own files for stdout/stderr: otherwise Dovecot holds the caller's pipe open.
            server._dovecot = subprocess.Popen(
                [dovecot, "-F", "-c", str(dovecot_conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        auth_socket = base / "dovecot-run" / "auth-client"
        # If this process dies without stop(), don't leak daemons or the temp dir.
        server._reaper = Reaper(
            commands=[[postfix, "-c", str(base / "postfix"), "abort"]],
            killpg=[server._dovecot.pid],
            remove=[str(base)],
        )

        # --- Postfix
        cfg = base / "postfix"
        cfg.mkdir()
        _prepare_queue(base)
        mail = base / "mail"
        mail.mkdir()
        os.chown(mail, mail_uid, mail_gid)
        (cfg / "main.cf").write_text(
            _main_cf(base, tls, mail_uid, mail_gid, [submission, smtps, plain]), encoding="utf-8"
        )
        (cfg / "master.cf").write_text(_master_cf(submission, smtps, plain), encoding="utf-8")
        _write_postfix_tables(cfg, users, REJECT_ADDRESS, DEFER_ADDRESS)
        # Postfix re-reads a config file until its mtime is >1 s old ("let the
        # file cool down", 300 ms naps): fresh files cost ~2.4 s per command.
        past = time.time() - 60
        for path in cfg.iterdir():
            os.utime(path, (past, past))

        wait_for(auth_socket.exists, timeout, "Dovecot auth socket", proc=server._dovecot)
        _run_logged([postfix, "-c", str(cfg), "start"], base / "commands.log", "postfix start")
        server._started = True
        ports = (submission, smtps, plain)
        # `master -w` returns once the listeners are bound; this is a cheap double check.
        wait_for(lambda: all(port_open(LOOPBACK, p) for p in ports), timeout, f"Postfix on ports {ports}")
    except BaseException:
        server.stop()
        raise
    server.start_seconds = time.perf_counter() - started
    return server


@contextlib.contextmanager
def postfix_server(users: dict[str, str] | None = None) -> Iterator[PostfixServer]:
    """``with postfix_server() as server:`` - start, yield, always stop."""
    server = start_postfix(users)
    try:
        yield server
    finally:
        server.stop()
