"""``mailcard check``: output, exit codes and the JSON-lines batch mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mailcard.cli import check_cmd
from mailcard.cli.main import COMMAND_MODULES

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()
    check_cmd.register(application)

    @application.command("noop")  # a second command keeps Typer in sub-command mode, as in the real app
    def noop() -> None:
        pass

    return application


def test_registered_in_main() -> None:
    assert "check_cmd" in COMMAND_MODULES


def test_blocked_file_json(app: typer.Typer, tmp_path: Path) -> None:
    page = tmp_path / "mail.html"
    page.write_text('<p>Hi</p><iframe src="https://example.com"></iframe>', encoding="utf-8")
    result = runner.invoke(app, ["check", str(page), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["verdict"] == "block"
    assert [f["code"] for f in data["findings"] if f["severity"] == "error"] == ["unsafe_frame"]


def test_warning_exits_zero(app: typer.Typer) -> None:
    result = runner.invoke(app, ["check", "-", "--text", "--json"], input="Sale: bit.ly/abc\n")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["verdict"] == "warn"
    assert data["findings"][0]["code"] == "shortened_link"


def test_subject_and_preheader_only(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["check", "--subject", "Hello", "--preheader", "See vk.cc/abc", "--json"], input=""
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["verdict"] == "warn"


def test_human_output(app: typer.Typer, tmp_path: Path) -> None:
    page = tmp_path / "mail.html"
    page.write_text("<p>Hi</p><script>alert(1)</script>", encoding="utf-8")
    result = runner.invoke(app, ["check", str(page), "--subject", "Hi"])
    assert result.exit_code == 1
    assert "Verdict: block" in result.stdout
    assert "unsafe_script" in result.stdout
    assert "Remove the <script>" in result.stdout


def test_clean_content_is_ok(app: typer.Typer) -> None:
    result = runner.invoke(
        app,
        ["check", "--html", "--json", "--subject", "Hi"],
        input='<p><a href="https://example.com/">Shop</a></p>',
    )
    assert result.exit_code == 0
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["missing_text_part"]


@pytest.mark.parametrize(
    "args",
    [["check", "--html", "--text", "-"], ["check", "/no/such/file.html"]],
)
def test_usage_errors_exit_two(app: typer.Typer, args: list[str]) -> None:
    assert runner.invoke(app, args, input="x").exit_code == 2


def test_jsonl_batch_keeps_order_and_survives_bad_lines(app: typer.Typer) -> None:
    lines = [
        json.dumps({"id": "a", "html": "<img src=x onerror=alert(1)>", "subject": "Hi"}),
        "not json",
        json.dumps({"id": "b", "text": "Follow t.me/shop"}),
        json.dumps({"id": "c"}),
        json.dumps(["array"]),
        json.dumps({"id": "d", "html": 5}),
        json.dumps({"id": "e", "text": "Thanks!", "subject": "Order", "preheader": "Shipped"}),
    ]
    result = runner.invoke(app, ["check", "--jsonl"], input="\n".join(lines) + "\n")
    assert result.exit_code == 1  # one item is blocked
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "b", "c", None, "d", "e"]
    assert out[0]["verdict"] == "block"
    assert out[0]["findings"][0]["code"] == "unsafe_event_handler"
    assert out[1]["error"]["code"] == "invalid_input"
    assert out[2]["verdict"] == "warn"
    assert "error" in out[3] and "error" in out[4] and "error" in out[5]
    assert out[6] == {"id": "e", "verdict": "ok", "findings": []}


def test_jsonl_without_blocks_but_with_bad_line_exits_two(app: typer.Typer) -> None:
    result = runner.invoke(app, ["check", "--jsonl"], input='{"id": 1, "text": "hi"}\n{oops\n')
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 2


def test_allow_domain_option(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["check", "--text", "--json", "--allow-domain", "t.me"], input="https://t.me/shop"
    )
    assert json.loads(result.stdout)["verdict"] == "ok"
