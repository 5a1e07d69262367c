"""``mailcard flow validate|activate|deactivate|list|runs|run show|tasks``: automated flows from the shell.

``validate`` and ``activate`` read a JSON or YAML definition and print every finding (code, severity,
block, field) at once; exit 1 when there are errors (nothing is activated), 2 when the file cannot be
read. ``run show`` prints a run's trace: each block's input, output and the edge it took.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from mailcard.cli.runtime import (
    EXIT_FAILED,
    EXIT_OK,
    JsonOption,
    console,
    container,
    emit,
    handled,
    usage_error,
)

ProbeOption = typer.Option(False, "--probe", help="Also test each SMTP account live (nothing is sent).")


def _read(path: Path, as_json: bool) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        usage_error(f"Cannot read the flow definition: {exc}", as_json=as_json)


def _print_findings(findings: list[dict[str, Any]]) -> None:
    colours = {"error": "red", "warning": "yellow", "info": "cyan"}
    for f in findings:
        where = "/".join(str(x) for x in (f.get("block_id"), f.get("field")) if x)
        console.print(
            f"  [{colours.get(f['severity'], 'white')}]{f['severity']}[/] {f['code']}"
            + (f" [{where}]" if where else "")
            + f": {f['message']}"
        )
        if f.get("hint"):
            console.print(f"      hint: {f['hint']}")


def register(app: typer.Typer) -> None:
    flow = typer.Typer(
        help="Automated flows: validate, activate, runs and their traces.", no_args_is_help=True
    )
    app.add_typer(flow, name="flow")
    run = typer.Typer(help="One flow run.", no_args_is_help=True)
    flow.add_typer(run, name="run")

    @flow.command("schema")
    def schema() -> None:
        """Print the JSON Schema of a flow definition (docs/flow.schema.json)."""
        from mailcard.flows import flow_json_schema

        sys.stdout.write(json.dumps(flow_json_schema(), indent=2, ensure_ascii=False) + "\n")

    @flow.command("validate")
    def validate(file: Path, probe: bool = ProbeOption, as_json: bool = JsonOption) -> None:
        """Check a definition (JSON or YAML) and print every finding; stores nothing."""
        text = _read(file, as_json)
        with handled(as_json=as_json), container() as mailcard:
            result = mailcard.flows().validate(text, filename=file.name, probe=probe)
            data = result.to_dict()

            def human() -> None:
                verdict = "[green]valid[/]" if result.valid else "[red]not valid[/]"
                console.print(
                    f"{data['flow_id'] or file.name}: {verdict} ({data['errors']} errors, {data['warnings']} warnings)"
                )
                _print_findings(data["findings"])

            emit(data, as_json=as_json, human=human)
            raise typer.Exit(EXIT_OK if result.valid else EXIT_FAILED)

    @flow.command("activate")
    def activate(file: Path, probe: bool = ProbeOption, as_json: bool = JsonOption) -> None:
        """Validate and activate; a changed definition becomes a new version (runs keep theirs)."""
        text = _read(file, as_json)
        with handled(as_json=as_json), container() as mailcard:
            data = mailcard.flows().activate(text, filename=file.name, probe=probe).to_dict()

            def human() -> None:
                state = "new version" if data["new_version"] else "unchanged"
                console.print(f"[green]active[/] {data['flow_id']} version {data['version']} ({state})")
                _print_findings(data["findings"])

            emit(data, as_json=as_json, human=human)

    @flow.command("deactivate")
    def deactivate(flow_id: str, as_json: bool = JsonOption) -> None:
        """Stop starting runs for new events; runs under way finish."""
        with handled(as_json=as_json), container() as mailcard:
            data = mailcard.flows().set_active(flow_id, False).to_dict()
            emit(data, as_json=as_json, human=lambda: console.print(f"{flow_id} deactivated"))

    @flow.command("list")
    def list_flows(as_json: bool = JsonOption) -> None:
        """Flows, their current version and whether they are active."""
        with handled(as_json=as_json), container() as mailcard:
            flows = [f.to_dict() for f in mailcard.flows().store.list_flows()]

            def human() -> None:
                table = Table("id", "name", "trigger", "version", "active")
                for f in flows:
                    table.add_row(
                        f["id"], f["name"], f["trigger_event"] or "", str(f["version"]), str(f["active"])
                    )
                console.print(table)

            emit({"flows": flows}, as_json=as_json, human=human)

    @flow.command("runs")
    def runs(
        flow_id: str | None = typer.Option(None, "--flow", help="Only this flow's runs."),
        status: str | None = typer.Option(None, "--status", help="running, waiting, completed or failed"),
        limit: int = typer.Option(50, "--limit", min=1, max=1000),
        as_json: bool = JsonOption,
    ) -> None:
        """Runs, newest first."""
        with handled(as_json=as_json), container() as mailcard:
            found, total = mailcard.flows().store.list_runs(flow_id=flow_id, status=status, limit=limit)
            items = [r.to_dict() for r in found]

            def human() -> None:
                table = Table("id", "flow", "version", "status", "block", "error")
                for r in items:
                    table.add_row(
                        r["id"],
                        r["flow_id"],
                        str(r["version"]),
                        r["status"],
                        r["block_id"] or "",
                        r["error"] or "",
                    )
                console.print(table)

            emit({"runs": items, "total": total}, as_json=as_json, human=human)

    @run.command("show")
    def show(run_id: str, as_json: bool = JsonOption) -> None:
        """A run with its trace: every block's input, output and the edge it took."""
        with handled(as_json=as_json), container() as mailcard:
            store = mailcard.flows().store
            data = store.get_run(run_id).to_dict() | {"trace": [s.to_dict() for s in store.steps(run_id)]}
            emit(data, as_json=as_json, human=lambda: print_run(data))

    @flow.command("tasks")
    def tasks(
        status: str | None = typer.Option("open", "--status", help="open or done"),
        as_json: bool = JsonOption,
    ) -> None:
        """Agent tasks created by notify_agent blocks."""
        with handled(as_json=as_json), container() as mailcard:
            found, _ = mailcard.flows().store.tasks(status=status, limit=500)
            items = [t.to_dict() for t in found]

            def human() -> None:
                table = Table("id", "assignee", "title", "status", "run")
                for t in items:
                    table.add_row(
                        str(t["id"]), str(t["assignee_id"] or ""), t["title"], t["status"], t["run_id"] or ""
                    )
                console.print(table)

            emit({"tasks": items}, as_json=as_json, human=human)


def print_run(data: dict[str, Any]) -> None:
    colour = {"completed": "green", "failed": "red"}.get(data["status"], "yellow")
    console.print(
        f"[bold]{data['id']}[/] {data['flow_id']} v{data['version']}: [{colour}]{data['status']}[/]"
    )
    if data.get("error"):
        console.print(f"  {data['error']}")
    for step in data.get("trace", []):
        edge = f" → {step['edge']}" if step["edge"] else (" (waiting)" if step["finished_at"] is None else "")
        console.print(f"  {step['seq']}. {step['block_id']} ({step['block_type']}){edge}")
        console.print(f"     in:  {json.dumps(step['input'], ensure_ascii=False)}")
        console.print(f"     out: {json.dumps(step['output'], ensure_ascii=False)}")
