"""The API keeps the promises of its own OpenAPI document, checked by schemathesis.

Schemathesis reads ``/openapi.json`` from the real app (in-process ASGI calls, a temporary SQLite
database with a seeded world behind the ids) and, for every operation, sends generated requests —
valid and invalid — as an admin with an API token. Every response must:

* not be a server error (``not_a_server_error``);
* have a documented content type (``content_type_conformance``): every error is problem+json;
* match the documented schema (``response_schema_conformance``).

The run is bounded (``MAX_EXAMPLES`` per operation) and deterministic (a fixed seed, no example
database), so CI sees the same requests every time. ``MAILCARD_FUZZ_EXAMPLES`` and
``MAILCARD_FUZZ_SEED`` explore further locally.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from tests.support.card_world import CardWorld, build_world

from mailcard.api.app import Services, create_app
from mailcard.bootstrap import build
from mailcard.identity import Role, UserPatch
from mailcard.settings import Settings

MAX_EXAMPLES = int(os.environ.get("MAILCARD_FUZZ_EXAMPLES", "25"))  # per operation
SEED = int(os.environ.get("MAILCARD_FUZZ_SEED", "20261121"))
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
ROOT = Path(__file__).resolve().parents[2]
# A generated SMTP account may name any host; its connection test must not stall the run.
MAX_PROBE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardWorld]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis")
    container = build(Settings(data_dir=data_dir, devinbox_port=1))
    built = build_world(container)
    try:
        yield built
    finally:
        built.close()
        container.dispose()


@pytest.fixture(scope="module")
def api_schema(world: CardWorld) -> Any:
    app = create_app(world.container, Services(worker=False))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    flows = _seed_flows(world)
    seeded: dict[str, list[Any]] = {
        **flows,
        "customer_id": list(world.customers.values()),
        "user_id": list(world.users.values()),
        "store_id": [world.store_id],
        "template_id": [world.template_id],
        "address_id": [world.address_id],
        "account_id": [world.account_id],
        "message_id": list(world.messages.values()),
    }

    @schema.hook("flatmap_path_parameters")
    def _real_ids(context: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
        # Random ids almost never exist; most of the time, point at a row that does.
        if not path_parameters:
            return st.just(path_parameters)
        options = [path_parameters]
        for name, ids in seeded.items():
            if name in path_parameters:
                options += [{**path_parameters, name: value} for value in ids]
        # And one where every id names a seeded row (a flow and its version, together).
        options.append({**path_parameters, **{k: seeded[k][0] for k in path_parameters if k in seeded}})
        return st.sampled_from(options)

    @schema.hook("map_body")
    def _bounded_probe(context: Any, body: Any) -> Any:
        if (
            context.operation is not None
            and context.operation.path == "/api/smtp-accounts"
            and isinstance(body, dict)
            and isinstance(body.get("timeout_seconds"), int | float)
        ):
            body["timeout_seconds"] = min(body["timeout_seconds"], MAX_PROBE_TIMEOUT)
        return body

    return schema


def _seed_flows(world: CardWorld) -> dict[str, list[Any]]:
    """An active example flow with one run started by one event, so flow, run and event ids exist."""
    from mailcard.flows import IncomingEvent

    source = (ROOT / "examples" / "flows" / "order-follow-up.yaml").read_text(encoding="utf-8")
    activation = world.container.flows().activate(source, user_id=world.users["admin"])
    assert activation.to_dict()["flow_id"] == "order-follow-up", activation.to_dict()
    accepted = world.container.flow_engine().accept(
        IncomingEvent(
            id="order-1042A-shipped",
            type="order.shipped",
            customer=world.customers["own"],
            data={"order": {"number": "1042A", "url": "https://shop.example.com/orders/1042A"}},
        )
    )
    return {
        "flow_id": ["order-follow-up"],
        "version": [1],
        "run_id": [run.id for run in accepted.runs],
        "event_id": [accepted.event.id],
    }


def test_every_operation_keeps_its_documented_contract(
    api_schema: Any, world: CardWorld, subtests: pytest.Subtests
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Deletes last, so that every other operation still finds the seeded rows.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    labels = {operation.label for operation in operations}
    assert {"POST /api/customers/{customer_id}/emails", "GET /api/users/{user_id}"} <= labels
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for operation in operations:
        with subtests.test(msg=operation.label):
            _fuzz(operation, world, statuses[operation.label])
    # Not only refusals: most operations were also answered with success at least once.
    succeeded = [label for label, seen in statuses.items() if any(200 <= s < 300 for s in seen)]
    assert len(succeeded) >= len(operations) * 2 // 3, sorted(labels - set(succeeded))


def _fuzz(operation: Any, world: CardWorld, statuses: Counter[int]) -> None:
    """Valid and invalid requests for one operation; a failing case is shrunk and reported."""
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @seed(SEED)
    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case: Case[Any]) -> None:
        _keep_the_admin(world)
        response = case.call_and_validate(headers=world.headers("admin"), checks=CHECKS)
        statuses[response.status_code] += 1

    run()


def _keep_the_admin(world: CardWorld) -> None:
    """Undo what a generated request may do to the caller itself (demote, deactivate, revoke)."""
    container = world.container
    admin_id = world.users["admin"]
    admin = container.users.get(admin_id)
    if admin.role is not Role.ADMIN or not admin.is_active:
        container.users.update(admin_id, UserPatch(role=Role.ADMIN, is_active=True))
    if container.credentials.principal_for_token(world.tokens["admin"]) is None:
        world.tokens["admin"] = container.credentials.create_token(admin_id, "tests")[0]
