"""``mailcard check``: run the content validation on a file, stdin, or a JSON-lines batch.

Exit codes: 0 nothing blocks (warnings allowed), 1 blocked, 2 usage error (bad flags, unreadable
input). In ``--jsonl`` batch mode each input line gets one output line, in order; a bad line gets an
error object instead of a verdict and never stops the batch (exit 1 if any item is blocked, else 2
if any line was unusable, else 0).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from mailcard.cli.runtime import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    JsonOption,
    console,
    print_json,
    usage_error,
)
from mailcard.textio import is_unicode
from mailcard.validation import ContentToCheck, LinkPolicy, Report, check_content

_LOOKS_LIKE_HTML = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9:-]*[\s/>]|!--|!doctype)", re.I)
_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_VERDICT_STYLES = {"ok": "bold green", "warn": "bold yellow", "block": "bold red"}


def _read_input(file: str | None, *, as_json: bool) -> str:
    if file is None or file == "-":
        text = sys.stdin.read()
        if not is_unicode(text):  # undecodable bytes arrive as lone surrogates
            usage_error("Standard input is not UTF-8 text.", as_json=as_json, hint="Send UTF-8 text.")
        return text.removeprefix("\ufeff")
    try:
        return Path(file).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        usage_error(f"File not found: {file}", as_json=as_json)
    except UnicodeDecodeError:
        usage_error(f"{file} is not UTF-8 text.", as_json=as_json, hint="Save the file as UTF-8.")
    except OSError as error:
        usage_error(f"Cannot read {file}: {error.strerror}", as_json=as_json)


def _print_report(report: Report) -> None:
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in ("error", "warning", "info")}
    summary = Text(f"Verdict: {report.verdict}", style=_VERDICT_STYLES[report.verdict])
    summary.append(
        f"  ({counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes)", style=""
    )
    console.print(summary)
    for finding in report.findings:
        where = ""
        if finding.location is not None:
            where = finding.location.part
            if finding.location.line is not None:
                where += f":{finding.location.line}:{finding.location.column}"
        line = Text(f"{finding.severity:<7} ", style=_STYLES[finding.severity])
        line.append(f"{finding.code}", style="bold")
        line.append(f" [{where}] " if where else " ")
        line.append(finding.message)
        console.print(line)
        if finding.excerpt:
            console.print(Text(f"        {finding.excerpt}", style="dim"))
        if finding.hint:
            console.print(Text(f"        Hint: {finding.hint}", style="italic"))


def _batch_item(raw: str, policy: LinkPolicy) -> tuple[dict[str, Any], str]:
    """The output object for one input line, and its outcome: a verdict or ``"error"``."""
    item_id: Any = None
    if not is_unicode(raw):
        return _batch_error(None, "The line is not UTF-8 text."), "error"
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        return _batch_error(None, f"Not valid JSON: {error.msg} (column {error.colno})."), "error"
    except RecursionError:
        return _batch_error(None, "The line is nested too deeply."), "error"
    if not isinstance(data, dict):
        return _batch_error(None, "Each line must be a JSON object."), "error"
    item_id = data.get("id")
    fields = {key: data.get(key) for key in ("html", "text", "subject", "preheader")}
    wrong = [key for key, value in fields.items() if value is not None and not isinstance(value, str)]
    if wrong:
        return _batch_error(item_id, f"Field {wrong[0]!r} must be a string."), "error"
    if fields["html"] is None and fields["text"] is None:
        return _batch_error(item_id, 'The object needs "html" or "text".'), "error"
    try:
        content = ContentToCheck(
            subject=fields["subject"], preheader=fields["preheader"], html=fields["html"], text=fields["text"]
        )
        report = check_content(content, policy)
    except Exception as error:  # one broken item must never stop the batch
        return _batch_error(item_id, f"Could not check this item: {error}", code="internal_error"), "error"
    return {"id": item_id, "verdict": report.verdict, "findings": [f.to_dict() for f in report.findings]}, (
        report.verdict
    )


def _batch_error(item_id: Any, message: str, *, code: str = "invalid_input") -> dict[str, Any]:
    return {"id": item_id, "error": {"code": code, "message": message}}


def _run_batch(policy: LinkPolicy) -> int:
    outcomes: set[str] = set()
    for raw in sys.stdin:
        if not raw.strip():
            continue
        output, outcome = _batch_item(raw, policy)
        outcomes.add(outcome)
        print_json(output)
    if "block" in outcomes:
        return EXIT_FAILED
    return EXIT_USAGE if "error" in outcomes else EXIT_OK


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(
        file: str | None = typer.Argument(None, help="File to check; '-' reads standard input."),
        html: bool = typer.Option(False, "--html", help="The input is the HTML part."),
        text: bool = typer.Option(False, "--text", help="The input is the plain-text part."),
        subject: str | None = typer.Option(None, "--subject", help="Subject line to check as well."),
        preheader: str | None = typer.Option(None, "--preheader", help="Preheader to check as well."),
        allow_domain: list[str] = typer.Option(
            [], "--allow-domain", help="Never flag links to this domain (repeatable), e.g. t.me."
        ),
        shortener: list[str] = typer.Option(
            [], "--shortener", help="Also flag this domain as a link shortener (repeatable)."
        ),
        jsonl: bool = typer.Option(
            False,
            "--jsonl",
            help='Batch: read {"id", "html"|"text", "subject"?, "preheader"?} lines from stdin.',
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Check content for malicious code (blocks), shortened links and other problems (warnings)."""
        policy = LinkPolicy(extra_shorteners=tuple(shortener), allowed_domains=tuple(allow_domain))
        if jsonl:
            if file not in (None, "-") or html or text or subject is not None or preheader is not None:
                usage_error(
                    "--jsonl reads everything from standard input; give no file or part options.",
                    as_json=True,
                )
            raise typer.Exit(_run_batch(policy))
        if html and text:
            usage_error("Choose one of --html and --text.", as_json=as_json)
        body: str | None = None
        if file is not None or not sys.stdin.isatty():
            body = _read_input(file, as_json=as_json)
        elif subject is None and preheader is None:
            usage_error(
                "Nothing to check: give a FILE, pipe content in, or use --subject/--preheader.",
                as_json=as_json,
            )
        is_html = html or (not text and body is not None and _LOOKS_LIKE_HTML.search(body) is not None)
        content = ContentToCheck(
            subject=subject,
            preheader=preheader,
            html=body if is_html else None,
            text=body if body is not None and not is_html else None,
        )
        report = check_content(content, policy)
        if as_json:
            print_json(report.to_dict())
        else:
            _print_report(report)
        raise typer.Exit(EXIT_FAILED if report.verdict == "block" else EXIT_OK)
