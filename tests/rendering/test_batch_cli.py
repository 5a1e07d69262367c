"""JSON-lines batch rendering and the ``mailcard render`` command."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mailcard.cli.main import build_app
from mailcard.rendering.batch import render_jsonl

RUNNER = CliRunner()


def test_render_jsonl_outputs_errors_and_bad_lines_in_order() -> None:
    lines = [
        json.dumps({"id": "ru", "template": "Привет, {{ name }}!", "context": {"name": "<Анна>"}}),
        "{not json",
        json.dumps({"id": "zh", "template": "{{ name", "context": {}}),
        json.dumps(
            {
                "id": "en",
                "template": "Hi {{ name }}",
                "context": {"name": "<Ann>"},
                "config": {"autoescape": False, "strict_variables": True},
            }
        ),
        json.dumps(
            {
                "id": "strict",
                "template": "\n{{ nme }}",
                "context": {"name": 1},
                "config": {"strict_variables": True},
            }
        ),
        "",
        json.dumps(["not", "an", "object"]),
    ]
    results = [json.loads(line) for line in render_jsonl(lines)]
    assert results[0] == {"id": "ru", "output": "Привет, &lt;Анна&gt;!"}
    assert results[1]["id"] is None and "invalid JSON" in results[1]["error"]["message"]
    assert results[2]["id"] == "zh" and results[2]["error"]["line"] == 1
    assert results[3] == {"id": "en", "output": "Hi <Ann>"}
    assert results[4]["error"] == {
        "message": "unresolved variable nme at line 2; did you mean name?",
        "line": 2,
        "column": 4,
    }
    assert "error" in results[5]
    assert len(results) == 6


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_cli_renders_a_template_with_context(tmp_path: Path) -> None:
    template = write(
        tmp_path, "subject.twig", "{{ customer.lastName }}{{ customer.firstName }}，您好！{{ 1500.0 }}"
    )
    context = write(tmp_path, "ctx.json", json.dumps({"customer": {"lastName": "王", "firstName": "小明"}}))
    result = RUNNER.invoke(
        build_app(), ["render", "--template", template, "--context", context, "--autoescape", "none"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "王小明，您好！1500"


def test_cli_refuses_an_unknown_timezone_before_rendering(tmp_path: Path) -> None:
    template = write(tmp_path, "subject.twig", "no dates here")
    result = RUNNER.invoke(build_app(), ["render", "-t", template, "--timezone", "Mars/Olympus"])
    assert result.exit_code == 2
    assert "unknown timezone 'Mars/Olympus'" in result.stderr


def test_cli_reads_a_context_file_that_starts_with_a_bom(tmp_path: Path) -> None:
    template = write(tmp_path, "subject.twig", "{{ name }}, ваш заказ готов")
    context = write(tmp_path, "ctx.json", "\ufeff" + json.dumps({"name": "Анна"}))
    result = RUNNER.invoke(build_app(), ["render", "-t", template, "-c", context, "--autoescape", "none"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Анна, ваш заказ готов"


def test_cli_escapes_html_by_default_and_uses_the_timezone(tmp_path: Path) -> None:
    template = write(tmp_path, "body.twig", "<p>{{ name }} {{ at|date('H:i') }}</p>")
    context = write(tmp_path, "ctx.json", json.dumps({"name": "Tom & Jerry", "at": "2024-03-05T11:07:00Z"}))
    result = RUNNER.invoke(
        build_app(), ["render", "--template", template, "--context", context, "--timezone", "Europe/Moscow"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "<p>Tom &amp; Jerry 14:07</p>"


def test_cli_template_error_exits_1_with_line_and_column(tmp_path: Path) -> None:
    template = write(tmp_path, "bad.twig", "ok\n{{ customer.firstNmae }}")
    context = write(tmp_path, "ctx.json", json.dumps({"customer": {"firstName": "Ann"}}))
    result = RUNNER.invoke(build_app(), ["render", "--template", template, "--context", context, "--strict"])
    assert result.exit_code == 1
    assert "line 2, column 4" in result.stderr
    assert "did you mean customer.firstName?" in result.stderr


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    template = write(tmp_path, "t.twig", "{{ x }}")
    bad_json = write(tmp_path, "bad.json", "{oops")
    array_json = write(tmp_path, "array.json", "[1, 2]")
    app = build_app()
    assert RUNNER.invoke(app, ["render", "--template", str(tmp_path / "missing.twig")]).exit_code == 2
    assert RUNNER.invoke(app, ["render", "--template", template, "--context", bad_json]).exit_code == 2
    assert RUNNER.invoke(app, ["render", "--template", template, "--context", array_json]).exit_code == 2
    assert RUNNER.invoke(app, ["render", "--template", template, "--autoescape", "xml"]).exit_code == 2
    assert RUNNER.invoke(app, ["render"]).exit_code == 2


def test_cli_jsonl_reads_stdin_line_by_line() -> None:
    stdin = "\n".join(
        [
            json.dumps(
                {"id": 1, "template": "{{ n|number_format(2, ',', ' ') }} ₽", "context": {"n": 1234.5}}
            ),
            "garbage",
        ]
    )
    result = RUNNER.invoke(build_app(), ["render", "--jsonl"], input=stdin + "\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"id": 1, "output": "1 234,50 ₽"}
    assert "error" in lines[1]
