"""Flows: the published JSON Schema, definitions and versions, validation, (de)activation, runs.

Any signed-in user may read flows and runs and validate a definition; activating and deactivating
are for administrators. A run's trace (every block's input and output) comes with the run.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from mailcard.api.deps import AdminUser, ContainerDep, CurrentUser, Page, Paging, id_path
from mailcard.flows import flow_json_schema

router = APIRouter(prefix="/api/flows", tags=["flows"])


class FlowSubmission(BaseModel):
    """A definition as an object (JSON), or as JSON/YAML text in ``source``."""

    definition: dict[str, Any] | None = Field(
        None, description="The flow, as docs/flow.schema.json describes."
    )
    source: str | None = Field(None, max_length=1_000_000, description="The flow as YAML or JSON text.")
    probe: bool = Field(
        False, description="Also test each SMTP account live (connect, TLS, login, MAIL FROM)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> FlowSubmission:
        if (self.definition is None) == (self.source is None):
            raise ValueError("give either definition or source")
        return self

    def content(self) -> str | dict[str, Any]:
        return self.definition if self.definition is not None else (self.source or "")


@router.get("/schema")
def schema() -> dict[str, Any]:
    """The JSON Schema of a flow definition (also shipped as docs/flow.schema.json)."""
    return flow_json_schema()


@router.get("")
def list_flows(principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    return {"flows": [f.to_dict() for f in container.flows().store.list_flows()]}


@router.post("/validate")
def validate(body: FlowSubmission, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    """Every finding (errors and warnings, each naming its block and field); nothing is stored."""
    return container.flows().validate(body.content(), probe=body.probe).to_dict()


@router.post("/activate", status_code=201)
def activate(body: FlowSubmission, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    """Validate and activate; a changed definition becomes a new version (runs keep theirs)."""
    return container.flows().activate(body.content(), probe=body.probe, user_id=principal.user_id).to_dict()


@router.get("/runs")
def list_runs(
    principal: AdminUser,
    container: ContainerDep,
    paging: Paging,
    flow_id: str | None = Query(None, description="Only this flow's runs."),
    status: str | None = Query(None, description="running, waiting, completed or failed"),
) -> Page[Any]:
    runs, total = container.flows().store.list_runs(
        flow_id=flow_id, status=status, limit=paging.limit, offset=paging.offset
    )
    return Page.of([r.to_dict() for r in runs], total, paging)


@router.get("/runs/{run_id}")
def get_run(run_id: str, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    """A run with its trace: every block executed, with its input, output and the edge taken (admins:
    traces hold customers' data from every store)."""
    store = container.flows().store
    return store.get_run(run_id).to_dict() | {"trace": [s.to_dict() for s in store.steps(run_id)]}


@router.get("/{flow_id}")
def get_flow(flow_id: str, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    store = container.flows().store
    flow = store.get_flow(flow_id)
    current = store.version(flow_id, flow.current_version) if flow.current_version else None
    return flow.to_dict() | {"definition": current.definition if current else None}


@router.get("/{flow_id}/versions")
def list_versions(flow_id: str, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    return {"versions": [v.to_dict() for v in container.flows().store.versions(flow_id)]}


@router.get("/{flow_id}/versions/{version}")
def get_version(
    flow_id: str,
    # Inside what every database holds: a larger number is refused here, not by the driver.
    version: Annotated[int, id_path("version")],
    principal: CurrentUser,
    container: ContainerDep,
) -> dict[str, Any]:
    return container.flows().store.version(flow_id, version).to_dict()


@router.post("/{flow_id}/deactivate")
def deactivate(flow_id: str, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    """New events start nothing; runs under way finish with their version."""
    return container.flows().set_active(flow_id, False).to_dict()


@router.post("/{flow_id}/reactivate")
def reactivate(flow_id: str, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    """Activate the current version again (to activate a changed definition, POST /api/flows/activate)."""
    return container.flows().set_active(flow_id, True).to_dict()
