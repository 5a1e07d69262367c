"""Message templates: every user reads them (to pick one on the card); admins write them.

Saving checks the template: a part that does not compile is refused with its line and column
(``template_syntax_error``), unsafe content is refused with the findings (``content_blocked``), and
warnings such as shortened links are saved with the template and returned in ``findings``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from mailcard.api.deps import AdminUser, ContainerDep, CurrentUser, Page, Paging, id_path
from mailcard.crm import TemplateDraft
from mailcard.crm.templates import EVENT_PATTERN, MAX_BODY, MAX_PREHEADER, MAX_SUBJECT

router = APIRouter(prefix="/api/templates", tags=["templates"])

TemplateId = Annotated[int, id_path("template")]


class TemplateIn(BaseModel):
    """The whole template; ``PUT`` replaces every part, so send them all."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    event: str = Field(
        min_length=1,
        max_length=32,
        pattern=EVENT_PATTERN,
        description="Whose data the template is written for: customer, order, ...",
    )
    subject: str = Field(max_length=MAX_SUBJECT, description="Twig, rendered without HTML escaping.")
    preheader: str | None = Field(None, max_length=MAX_PREHEADER)
    html: str | None = Field(None, max_length=MAX_BODY, description="Twig with HTML autoescaping.")
    text: str | None = Field(None, max_length=MAX_BODY, description="At least one of html and text.")


class LocationOut(BaseModel):
    part: str
    line: int | None
    column: int | None


class FindingOut(BaseModel):
    code: str = Field(description="Stable: shortened_link, relative_link, missing_text_part, ...")
    severity: Literal["error", "warning", "info"]
    message: str
    hint: str | None
    location: LocationOut | None
    excerpt: str | None


class TemplateOut(BaseModel):
    id: int
    name: str
    event: str
    subject: str
    preheader: str | None
    html: str | None
    text: str | None
    findings: list[FindingOut] = Field(description="Warnings found when the template was saved.")
    created_at: str
    updated_at: str


def _draft(body: TemplateIn) -> TemplateDraft:
    return TemplateDraft(**body.model_dump())


@router.get("", response_model=Page[TemplateOut])
def list_templates(
    principal: CurrentUser,
    container: ContainerDep,
    paging: Paging,
    event: Annotated[
        str | None, Query(max_length=32, pattern=EVENT_PATTERN, description="Only templates for this event.")
    ] = None,
) -> Page[Any]:
    """Templates by name."""
    found, total = container.templates_store.list(limit=paging.limit, offset=paging.offset, event=event)
    return Page.of([t.to_dict() for t in found], total, paging)


@router.post("", response_model=TemplateOut, status_code=201)
def create_template(body: TemplateIn, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    return container.templates_store.create(_draft(body)).to_dict()


@router.get("/{template_id}", response_model=TemplateOut)
def get_template(template_id: TemplateId, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    return container.templates_store.get(template_id).to_dict()


@router.put("/{template_id}", response_model=TemplateOut)
def replace_template(
    template_id: TemplateId, body: TemplateIn, principal: AdminUser, container: ContainerDep
) -> dict[str, Any]:
    return container.templates_store.replace(template_id, _draft(body)).to_dict()


@router.delete("/{template_id}", status_code=204)
def delete_template(template_id: TemplateId, principal: AdminUser, container: ContainerDep) -> None:
    container.templates_store.delete(template_id)
