"""Agent tasks created by notify_agent blocks: a manager sees the tasks assigned to them, admins all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from mailcard.api.deps import ContainerDep, CurrentUser, Page, Paging, id_path
from mailcard.bootstrap import Container
from mailcard.errors import NotFoundError
from mailcard.flows.store import AgentTask

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

# Ids stay inside what every database holds: a larger one is refused here, not by the driver.
TaskId = Annotated[int, id_path("task")]


@router.get("")
def list_tasks(
    principal: CurrentUser,
    container: ContainerDep,
    paging: Paging,
    status: str | None = Query(None, description="open or done"),
) -> Page[Any]:
    assignee = None if principal.is_admin else principal.user_id
    tasks, total = container.flows().store.tasks(
        assignee_id=assignee, status=status, limit=paging.limit, offset=paging.offset
    )
    return Page.of([t.to_dict() for t in tasks], total, paging)


@router.get("/{task_id}")
def get_task(task_id: TaskId, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    return _visible(task_id, principal.user_id, principal.is_admin, container).to_dict()


@router.post("/{task_id}/done")
def mark_done(task_id: TaskId, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    _visible(task_id, principal.user_id, principal.is_admin, container)
    return container.flows().store.complete_task(task_id, principal.user_id, now=datetime.now(UTC)).to_dict()


def _visible(task_id: int, user_id: int, is_admin: bool, container: Container) -> AgentTask:
    task = container.flows().store.task(task_id)
    # Someone else's task is answered as missing, so ids cannot be probed.
    if not is_admin and task.assignee_id != user_id:
        raise NotFoundError(f"No task with id {task_id}.", code="task_not_found")
    return task
