"""Events in: ``POST /api/events`` starts the matching active flows; idempotent on the event's ``id``.

Events come from integrations (a shop, a booking system) with an API token, or from a signed-in
user; any authenticated user may send them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from mailcard.api.deps import AdminUser, ContainerDep, CurrentUser
from mailcard.flows import IncomingEvent

router = APIRouter(prefix="/api/events", tags=["events"])


class EventIn(BaseModel):
    id: str = Field(min_length=1, max_length=200, description="Your id: sending it again starts nothing new.")
    type: str = Field(min_length=1, max_length=100, description="e.g. order.created, appointment.booked")
    customer: int | str | dict[str, Any] | None = Field(
        None,
        description="The customer's id or external id, or the customer inline ({email, firstName, ...}).",
    )
    data: dict[str, Any] = Field(
        default_factory=dict, description="What templates see (order, appointment...)."
    )


@router.post(
    "",
    status_code=202,
    responses={200: {"description": "The id was known: the runs its first delivery started, nothing new."}},
)
def receive(
    body: EventIn, response: Response, principal: CurrentUser, container: ContainerDep
) -> dict[str, Any]:
    """Store the event and start a run of every active flow it triggers (202); a known id answers 200
    with the runs the first delivery started."""
    accepted = container.flow_engine().accept(
        IncomingEvent(id=body.id, type=body.type, customer=body.customer, data=body.data),
        received_by=principal.user_id,
    )
    if not accepted.created:
        response.status_code = 200
    return accepted.to_dict()


@router.get("/{event_id}")
def get_event(event_id: str, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    store = container.flows().store
    event = store.get_event(event_id)
    return event.to_dict() | {"runs": [r.to_dict() for r in store.runs(event.run_ids)]}
