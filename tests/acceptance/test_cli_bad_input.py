"""The real ``mailcard`` command, fed what scripts and shells really pass: bytes that are not UTF-8,
lone surrogates in JSON escapes, absurd nesting and numbers. Every answer is a clear error or a
result, with exit 0, 1 or 2, no traceback, and ``--json``/``--jsonl`` output that a strict JSON
parser reads (lone surrogates escaped, no ``Infinity``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.acceptance.conftest import MAILCARD


def run(env: dict[str, str], *args: str | bytes, stdin: bytes = b"") -> tuple[int, bytes, str]:
    done = subprocess.run(
        [MAILCARD, *args], env=env, input=stdin, capture_output=True, timeout=60, check=False
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    assert done.returncode in (0, 1, 2), (done.returncode, stderr)
    return done.returncode, done.stdout, stderr


def strict_json_lines(output: bytes) -> list[Any]:
    """Each line parsed as strict JSON from strict UTF-8 (what jq accepts)."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    text = output.decode("utf-8")  # raises on bytes that are not UTF-8
    return [json.loads(line, parse_constant=refuse) for line in text.splitlines() if line.strip()]


DEEP = "[" * 100_000


def test_check_jsonl_answers_every_line(mailcard_env: dict[str, str]) -> None:
    lines = [
        b'{"id": "\\ud800", "text": "hi \\udfff http://bit.ly/\\ud800"}',
        b'{"id": 1e400, "text": "x"}',
        b'{"id": "bytes", "text": "\xff\xfe"}',
        DEEP.encode(),
        b'{"id": "fine", "text": "see https://example.com/"}',
    ]
    code, out, _ = run(mailcard_env, "check", "--jsonl", stdin=b"\n".join(lines) + b"\n")
    results = strict_json_lines(out)
    assert len(results) == len(lines)
    assert results[0]["id"] == "\ud800" and results[0]["verdict"] == "warn"
    assert results[1]["id"] is None  # 1e400 is not a number JSON can carry back
    assert results[2]["error"]["message"] == "The line is not UTF-8 text."
    assert results[3]["error"]["message"] == "The line is nested too deeply."
    assert results[4] == {"id": "fine", "verdict": "ok", "findings": []}
    assert code == 2  # some lines could not be checked


def test_render_jsonl_answers_every_line(mailcard_env: dict[str, str]) -> None:
    lines = [
        b'{"id": "\\ud800", "template": "{{ x|upper }}", "context": {"x": "\\ud800"}}',
        b'{"id": 2, "template": "{{ 1|number_format }}", "context": {}, "config": {"number_format": [1e400, ".", ","]}}',
        b'{"id": 3, "template": "\xff{{ 1 }}", "context": {}}',
        b'{"id": 4, "template": "{{ x.0.1E+1 }}", "context": {"x": {"1": "one"}}}',
    ]
    _, out, _ = run(mailcard_env, "render", "--jsonl", stdin=b"\n".join(lines) + b"\n")
    results = strict_json_lines(out)
    assert [r["id"] for r in results] == ["\ud800", 2, None, 4]
    assert results[0]["output"] == "\ud800"
    assert results[1]["error"]["message"].startswith("invalid config")
    assert results[2]["error"]["message"] == "the line is not UTF-8 text"
    assert results[3]["output"] == "one"


def test_render_refuses_unreadable_input_with_exit_2(mailcard_env: dict[str, str], tmp_path: Path) -> None:
    template = tmp_path / "t.twig"
    template.write_text("{{ a }}", encoding="utf-8")
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP, encoding="utf-8")
    code, _, err = run(mailcard_env, "render", "-t", "-", stdin=b"\xff{{ x }}")
    assert code == 2 and "not UTF-8 text" in err
    code, _, err = run(mailcard_env, "render", "-t", str(template), "-c", str(deep))
    assert code == 2 and "nested too deeply" in err


@pytest.mark.parametrize(
    "args",
    [
        ("send", "--to", "a@example.com", "--from", "a@example.com", "--subject", "s", "--text", "x",
         "--smtp", b"\xff", "--json"),
        ("send", "--to", "a@example.com", "--from", "a@example.com", "--subject", "s", "--text", "x",
         "--idempotency-key", b"k\xff", "--json"),
        ("smtp", "test", "--smtp", b"smtp://\xff:1", "--json"),
        ("event", "send", b"\xff", "--no-wait", "--json"),
    ],
)  # fmt: skip
def test_arguments_that_are_not_utf8_are_a_usage_error(
    mailcard_env: dict[str, str], args: tuple[str | bytes, ...]
) -> None:
    code, out, _ = run(mailcard_env, *args)
    (answer,) = strict_json_lines(out)
    assert code == 2
    assert answer["error"]["code"] == "usage_error"
    assert "not UTF-8" in answer["error"]["message"]


def test_event_data_nested_too_deeply_is_a_usage_error(mailcard_env: dict[str, str]) -> None:
    code, out, _ = run(mailcard_env, "event", "send", "x.y", "--data", "[" * 30_000, "--json")
    assert code == 2
    assert strict_json_lines(out)[0]["error"]["message"] == "--data is nested too deeply."


def test_send_checks_the_ca_file_before_anything_is_queued(
    mailcard_env: dict[str, str], tmp_path: Path
) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n", encoding="utf-8")
    for ca_file in ("/nonexistent/ca.pem", str(not_pem)):
        code, out, _ = run(
            mailcard_env,
            "send", "--to", "a@example.com", "--from", "a@example.com", "--subject", "s", "--text", "x",
            "--smtp", "smtps://127.0.0.1:1", "--ca-file", ca_file, "--json",
        )  # fmt: skip
        assert code == 2
        assert strict_json_lines(out)[0]["error"]["code"] == "smtp_settings_invalid"
    code, out, _ = run(mailcard_env, "outbox", "list", "--json")
    assert code == 0 and strict_json_lines(out)[0]["messages"] == []


def test_smtp_url_with_a_bad_local_hostname_is_refused(mailcard_env: dict[str, str]) -> None:
    code, out, _ = run(
        mailcard_env, "smtp", "test", "--smtp", "smtp://127.0.0.1:1?local_hostname=a%20b", "--json"
    )
    assert code == 2
    assert strict_json_lines(out)[0]["error"]["code"] == "smtp_settings_invalid"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("check", "-", "--json"), "Standard input is not UTF-8 text."),
        (
            (
                "user",
                "add",
                "bob",
                "--name",
                "Bob",
                "--email",
                "bob@example.com",
                "--password-stdin",
                "--json",
            ),
            "The password on standard input is not UTF-8 text.",
        ),
    ],
)
def test_standard_input_that_is_not_utf8_is_a_usage_error(
    mailcard_env: dict[str, str], args: tuple[str, ...], says: str
) -> None:
    code, out, _ = run(mailcard_env, *args, stdin=b"<p>caf\xe9 long enough pass phrase</p>\n")
    assert code == 2
    assert strict_json_lines(out)[0]["error"]["message"] == says
