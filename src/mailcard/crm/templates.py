"""Message templates: a subject, preheader, HTML and text in Twig, written for one event's data.

A template is checked when it is saved, not when it is first sent: every part must compile, and
the source goes through :func:`mailcard.validation.check_content`. Unsafe content (scripts, frames,
``javascript:`` links, ...) refuses the save; warnings (shortened links, ...) are stored with the
template so lists can show them without checking again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from mailcard.crm import fields as clean
from mailcard.db.engine import reading
from mailcard.db.rows import row_by_id
from mailcard.db.schema import templates
from mailcard.errors import ContentBlockedError, InputError, NotFoundError, TemplateError, TemplateSyntaxError
from mailcard.validation import ContentToCheck, Finding, LinkPolicy, check_content

if TYPE_CHECKING:
    # Rendering loads only where templates are saved or used, not in every process that builds a Container.
    from mailcard.rendering import TemplateEngine

EVENT_PATTERN: Final = r"^[a-z][a-z0-9_]{0,31}$"
KNOWN_EVENTS: Final = ("customer", "order")
MAX_SUBJECT: Final = 2_000
MAX_PREHEADER: Final = 2_000
MAX_BODY: Final = 1_000_000

_event = re.compile(EVENT_PATTERN)


@dataclass(frozen=True)
class Template:
    id: int
    name: str
    event: str
    subject: str
    preheader: str | None
    html: str | None
    text: str | None
    # Warning and information findings (``Finding.to_dict()``) from the check at save.
    findings: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime

    def overridden(
        self, *, subject: str | None, preheader: str | None, html: str | None, text: str | None
    ) -> tuple[str, str | None, str | None, str | None]:
        """Subject, preheader, HTML and text to send: each one given, else this template's (the card
        and mailings let a user change a field of the template they picked)."""
        return (
            subject if subject is not None else self.subject,
            preheader if preheader is not None else self.preheader,
            html if html is not None else self.html,
            text if text is not None else self.text,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "event": self.event,
            "subject": self.subject,
            "preheader": self.preheader,
            "html": self.html,
            "text": self.text,
            "findings": [dict(f) for f in self.findings],
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class TemplateDraft:
    """The whole content of a template, for creating one or replacing one's content."""

    name: str
    event: str
    subject: str
    preheader: str | None = None
    html: str | None = None
    text: str | None = None


class TemplateStore:
    def __init__(
        self,
        engine: Engine,
        *,
        renderer: TemplateEngine | None = None,
        link_policy: LinkPolicy | None = None,
    ) -> None:
        self._engine = engine
        self._renderer = renderer
        self._link_policy = link_policy

    # -- reading -------------------------------------------------------------------------------------

    def get(self, template_id: int, *, conn: Connection | None = None) -> Template:
        with reading(self._engine, conn) as reader:
            return _get(reader, template_id)

    def list(
        self, *, limit: int = 50, offset: int = 0, event: str | None = None
    ) -> tuple[list[Template], int]:
        """A page of templates by name (then id), optionally only those for one ``event``."""
        query = select(templates)
        count = select(func.count()).select_from(templates)
        if event is not None:
            query = query.where(templates.c.event == event)
            count = count.where(templates.c.event == event)
        with reading(self._engine) as conn:
            total = conn.execute(count).scalar_one()
            rows = conn.execute(
                query.order_by(templates.c.name, templates.c.id).limit(limit).offset(offset)
            ).all()
        return [_to_template(r._mapping) for r in rows], int(total)

    # -- writing -------------------------------------------------------------------------------------

    def check(self, draft: TemplateDraft) -> tuple[TemplateDraft, tuple[Finding, ...]]:
        """The cleaned draft and its non-blocking findings.

        Raises :class:`TemplateSyntaxError` for a part that does not compile and
        :class:`ContentBlockedError` (with every finding) for unsafe content.
        """
        cleaned = _clean(draft)
        self._compile_parts(cleaned)
        report = check_content(
            ContentToCheck(
                subject=cleaned.subject, preheader=cleaned.preheader, html=cleaned.html, text=cleaned.text
            ),
            policy=self._link_policy,
        )
        if report.blocking:
            first = report.blocking[0]
            raise ContentBlockedError(
                f"The template was not saved: {first.message}",
                findings=[*report.blocking, *report.warnings],
                hint="Remove what the findings point to and save again.",
            )
        return cleaned, tuple(f for f in report.findings if f.severity != "error")

    def create(self, draft: TemplateDraft) -> Template:
        cleaned, findings = self.check(draft)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            template_id = conn.execute(
                insert(templates)
                .values(**_columns(cleaned, findings), created_at=now, updated_at=now)
                .returning(templates.c.id)
            ).scalar_one()
            return _get(conn, template_id)

    def replace(self, template_id: int, draft: TemplateDraft) -> Template:
        """Replace the whole content of a template (what ``PUT`` does)."""
        self.get(template_id)
        cleaned, findings = self.check(draft)
        with self._engine.begin() as conn:
            conn.execute(
                update(templates)
                .where(templates.c.id == template_id)
                .values(**_columns(cleaned, findings), updated_at=datetime.now(UTC))
            )
            return _get(conn, template_id)

    def delete(self, template_id: int) -> None:
        with self._engine.begin() as conn:
            _get(conn, template_id)
            conn.execute(delete(templates).where(templates.c.id == template_id))

    # -- checks --------------------------------------------------------------------------------------

    def _engine_for_templates(self) -> TemplateEngine:
        if self._renderer is None:
            from mailcard.rendering import TemplateEngine

            self._renderer = TemplateEngine()
        return self._renderer

    def _compile_parts(self, draft: TemplateDraft) -> None:
        from mailcard.rendering import RenderOptions

        renderer = self._engine_for_templates()
        parts = (
            ("subject", draft.subject, None),
            ("preheader", draft.preheader, None),
            ("html", draft.html, "html"),
            ("text", draft.text, None),
        )
        for part, source, autoescape in parts:
            if source is None:
                continue
            try:
                renderer.compile(source, RenderOptions(autoescape=autoescape), name=part)
            except TemplateError as error:
                # The engine's message already names the line and column.
                raise TemplateSyntaxError(
                    f"The {part} does not compile: {error.message}",
                    line=error.line,
                    column=error.column,
                    name=part,
                    hint=error.hint or "Fix the Twig syntax there and save again.",
                ) from None


def _not_found(template_id: int) -> NotFoundError:
    return NotFoundError(f"No template with id {template_id}.", code="template_not_found")


def _get(conn: Connection, template_id: int) -> Template:
    row = row_by_id(conn, templates, template_id)
    if row is None:
        raise _not_found(template_id)
    return _to_template(row)


def _to_template(row: Any) -> Template:
    return Template(
        id=row["id"],
        name=row["name"],
        event=row["event"],
        subject=row["subject"],
        preheader=row["preheader"],
        html=row["html"],
        text=row["text"],
        findings=list(row["findings"] or []),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _columns(draft: TemplateDraft, findings: tuple[Finding, ...]) -> dict[str, Any]:
    return {
        "name": draft.name,
        "event": draft.event,
        "subject": draft.subject,
        "preheader": draft.preheader,
        "html": draft.html,
        "text": draft.text,
        "findings": [f.to_dict() for f in findings],
    }


def _source(value: str | None, part: str, max_length: int) -> str | None:
    """A part's source as written (Twig whitespace matters), or ``None`` when blank."""
    if value is None or not value.strip():
        return None
    if "\x00" in value:
        raise InputError(f"The {part} contains a NUL character.", code="invalid_template")
    if len(value) > max_length:
        raise InputError(f"The {part} is longer than {max_length} characters.", code="invalid_template")
    return value


def _clean(draft: TemplateDraft) -> TemplateDraft:
    event = draft.event.strip() if isinstance(draft.event, str) else ""
    if not _event.match(event):
        raise InputError(
            f"{event[:40]!r} is not an event name.",
            code="invalid_event",
            hint=f"Use a lower-case name such as {' or '.join(KNOWN_EVENTS)}.",
        )
    html = _source(draft.html, "HTML", MAX_BODY)
    text = _source(draft.text, "text", MAX_BODY)
    if html is None and text is None:
        raise InputError(
            "A template needs an HTML body, a text body or both.",
            code="template_body_missing",
            hint="Write the message in html, text, or both.",
        )
    subject = draft.subject if isinstance(draft.subject, str) else ""
    if len(subject) > MAX_SUBJECT:
        raise InputError(f"The subject is longer than {MAX_SUBJECT} characters.", code="invalid_template")
    if "\x00" in subject:
        raise InputError("The subject contains a NUL character.", code="invalid_template")
    return TemplateDraft(
        name=clean.required_text(draft.name, field="template name", max_length=200, code="invalid_name"),
        event=event,
        subject=subject,
        preheader=_source(draft.preheader, "preheader", MAX_PREHEADER),
        html=html,
        text=text,
    )
