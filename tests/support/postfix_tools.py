"""Generic process helpers for real-server tests and benchmarks (pytest-independent).

This module owns:

* loopback port helpers (:func:`free_port`, :func:`wait_for_port`) used by the
  Postfix and PostgreSQL fixtures;
* wrappers around Postfix's test tools ``smtp-sink`` (a counting SMTP sink run
  as a subprocess, :class:`SmtpSink`) and ``smtp-source`` (a load generator,
  :func:`smtp_source`).

``bench/`` scripts import it as ``tests.support.postfix_tools`` after putting
the repository root on ``sys.path``::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.postfix_tools import smtp_sink, smtp_source

Nothing here imports pytest or ``mailcard``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"

# Debian ships smtp-sink/smtp-source in the postfix package under /usr/sbin,
# which is not on a normal user's PATH.
_TOOL_DIRS = ("/usr/sbin", "/usr/libexec/postfix", "/usr/lib/postfix/sbin")


class MissingBinaryError(RuntimeError):
    """A required system binary is not installed (run scripts/install-system-deps.sh)."""


def find_binary(name: str) -> str:
    """Return the absolute path of *name*, also looking in sbin directories."""
    found = shutil.which(name)
    if found:
        return found
    for directory in _TOOL_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise MissingBinaryError(f"{name} not found; run scripts/install-system-deps.sh")


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on *host* right now.

    The kernel picks it (bind to port 0).  There is a tiny window before the
    caller binds it; callers that start servers retry on a bind failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return *count* distinct free ports (all held open while choosing, so no duplicates)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    interval: float = 0.01,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll *predicate* until true or *timeout* seconds pass (raises TimeoutError).

    The poll interval starts tiny and doubles up to 0.1 s, so fast servers are
    picked up in milliseconds without busy-looping.  When *proc* is given and
    exits early, fail at once instead of waiting out the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)  # polling step of a deadline loop, not a blind wait
        interval = min(interval * 2, 0.1)


def catches_signal(proc: subprocess.Popen[bytes], signum: int) -> bool:
    """True once ``proc`` has installed a handler for ``signum`` (Linux: SigCgt in /proc/PID/status).

    Sending SIGTERM to a process still starting up kills it by the default action; tests that
    check a graceful stop wait for this first instead of sleeping.
    """
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False


def wait_for_port(
    host: str, port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until host:port accepts connections."""
    wait_for(lambda: port_open(host, port), timeout, f"{host}:{port} to accept connections", proc=proc)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Terminate *proc* (SIGTERM, then SIGKILL after *timeout*) and reap it."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------ reaper

# Runs in a separate interpreter.  It blocks reading its stdin (a pipe only the
# owning test process holds): "done" means the owner cleaned up itself; EOF
# without it means the owner died (SIGKILL, pytest-timeout hard kill, OOM) and
# its daemons - which live in their own sessions - would otherwise leak.
_REAPER_CODE = """
import json, os, shutil, signal, subprocess, sys
spec = json.loads(sys.argv[1])
if sys.stdin.buffer.read().strip() == b"done":
    sys.exit(0)
for cmd in spec["commands"]:
    try:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30, check=False)
    except Exception:
        pass
for pgid in spec["killpg"]:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
for path in spec["remove"]:
    shutil.rmtree(path, ignore_errors=True)
"""


class Reaper:
    """Cleans up a server's daemons and temp dir if the owning process dies.

    Call :meth:`disarm` after a normal stop.  Commands run, then process
    groups are SIGKILLed, then directories removed.
    """

    def __init__(
        self,
        commands: list[list[str]] = [],  # noqa: B006 - never mutated
        killpg: list[int] = [],  # noqa: B006
        remove: list[str] = [],  # noqa: B006
    ) -> None:
        import json
        import sys

        spec = json.dumps({"commands": commands, "killpg": killpg, "remove": remove})
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-c", _REAPER_CODE, spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # survives a Ctrl-C / SIGKILL aimed at the test's process group
        )

    def disarm(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.stdin is None:
            return
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(b"done")
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- smtp-sink


@dataclass
class SmtpSink:
    """A running ``smtp-sink`` process on ``host:port``.

    With ``count=True`` the sink runs with ``-c`` and prints a running message
    count to its stdout (captured in :attr:`log_path`).
    """

    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    _tmp: Path = field(repr=False)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self._tmp, ignore_errors=True)


def start_smtp_sink(
    port: int | None = None,
    *,
    host: str = LOOPBACK,
    backlog: int = 256,
    count: bool = True,
    extra_args: tuple[str, ...] = (),
    timeout: float = 10.0,
) -> SmtpSink:
    """Start ``smtp-sink`` listening on host:port (a free port when *port* is None)."""
    binary = find_binary("smtp-sink")
    tmp = Path(tempfile.mkdtemp(prefix="mailcard-sink-"))
    log_path = tmp / "smtp-sink.log"
    for _attempt in range(5):
        chosen = port if port is not None else free_port(host)
        args = [binary]
        if count:
            args.append("-c")
        # -u: smtp-sink refuses to run as root without dropping to a user.
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += [*extra_args, f"{host}:{chosen}", str(backlog)]
        with open(log_path, "wb") as log:
            # Own file for stdout/stderr: a pipe nobody reads would block the sink.
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(host, chosen, timeout=timeout, proc=proc)
        except RuntimeError:
            if port is None and "Address already in use" in log_path.read_text(errors="replace"):
                continue  # lost the race for the port; pick another
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return SmtpSink(host=host, port=chosen, proc=proc, log_path=log_path, _tmp=tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    raise RuntimeError("could not bind smtp-sink to a free port")


@contextlib.contextmanager
def smtp_sink(port: int | None = None, **kwargs: object) -> Iterator[SmtpSink]:
    """Context manager around :func:`start_smtp_sink`; stops the sink on exit."""
    sink = start_smtp_sink(port, **kwargs)  # type: ignore[arg-type]
    try:
        yield sink
    finally:
        sink.stop()


# ------------------------------------------------------------------------- smtp-source


@dataclass(frozen=True)
class SourceResult:
    """Outcome of one ``smtp-source`` run."""

    messages: int
    sessions: int
    message_size: int
    seconds: float
    returncode: int
    output: str

    @property
    def rate(self) -> float:
        """Messages per second (wall clock, including process start)."""
        return self.messages / self.seconds if self.seconds > 0 else float("inf")


def smtp_source(
    port: int,
    *,
    host: str = LOOPBACK,
    messages: int = 100,
    sessions: int = 1,
    message_size: int = 1024,
    recipients_per_message: int = 1,
    sender: str = "bench@mailcard.test",
    recipient: str = "sink@mailcard.test",
    reuse_connection: bool = False,
    timeout: float = 120.0,
    extra_args: tuple[str, ...] = (),
) -> SourceResult:
    """Run ``smtp-source`` against host:port and return the measured rate.

    ``-m`` messages total over ``-s`` parallel sessions, each ``-l`` bytes.
    Raises ``RuntimeError`` when smtp-source exits non-zero.
    """
    binary = find_binary("smtp-source")
    args = [
        binary,
        "-m",
        str(messages),
        "-s",
        str(sessions),
        "-l",
        str(message_size),
        "-r",
        str(recipients_per_message),
        "-f",
        sender,
        "-t",
        recipient,
    ]
    if reuse_connection:
        args.append("-d")  # send all of a session's messages over one connection
    args += [*extra_args, f"{host}:{port}"]
    started = time.perf_counter()
    done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    seconds = time.perf_counter() - started
    output = (done.stdout + done.stderr).decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"smtp-source failed ({done.returncode}): {output.strip()}")
    return SourceResult(
        messages=messages,
        sessions=sessions,
        message_size=message_size,
        seconds=seconds,
        returncode=done.returncode,
        output=output,
    )


_COUNT_RE = re.compile(r"(\d+)")


def sink_count(sink: SmtpSink) -> int:
    """Best-effort: the last message count printed by ``smtp-sink -c``."""
    numbers = _COUNT_RE.findall(sink.output())
    return int(numbers[-1]) if numbers else 0
