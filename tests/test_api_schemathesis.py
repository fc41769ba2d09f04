"""schemathesis over our own OpenAPI document: whatever it generates, valid or not, the API
answers without a 5xx and as the document says (status code, content type, body schema).

It calls the WSGI app directly (no server) with a real write-scoped token, so authenticated
routes run past the token check; path parameters are sometimes a real form slug or lead id, so
generation reaches the code behind the 404. Reproducible: derandomized, no example database.
quality.md wants the figure, so the run prints "N inputs over M operations, 0 5xx".

Checks left out on purpose: `positive_data_acceptance`, because the document cannot say every
rule (printable text only, a cursor must be one we issued, a form definition's semantics), so
schema-valid input is rightly a 422; `negative_data_rejection`, because an empty query value
counts as absent (`score_min=`), a leniency the contract allows.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# Per operation and generation mode; about 15 s for the whole API, under a minute on a busy
# 2-core machine. SCHEMATHESIS_EXAMPLES=500 for a longer hunt.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def real_ids(demo_forms: Any, submit: Any) -> dict[str, str]:
    lead = submit("newsletter", {"email": "ane@firma.dk"}).get_json()["lead"]
    return {"slug": "newsletter", "lead_id": lead}


def _modes(operation: Any) -> list[GenerationMode]:
    """Negative inputs only where the document constrains what a client sends: a bare GET with
    a string path parameter has nothing to violate (Hypothesis would find no example)."""
    if list(operation.query) or list(operation.headers) or operation.body:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def _strategy(operation: Any, mode: GenerationMode, real: dict[str, str]) -> Any:
    strategy = operation.as_strategy(mode)
    fixed = {p.name: real[p.name] for p in operation.path_parameters if p.name in real}
    if fixed:
        strategy = st.one_of(strategy, operation.as_strategy(mode, path_parameters=fixed))
    return strategy


def test_no_input_gets_a_5xx_or_breaks_the_documented_contract(
    app: Any, api_token: Any, real_ids: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = api_token("write")
    operations = [result.ok() for result in schema.get_all_operations()]
    # Erasing runs last, so the real lead is there for the other operations.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    statuses: dict[str, Counter[int]] = {op.label: Counter() for op in operations}

    for operation in operations:
        for mode in _modes(operation):

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=_strategy(operation, mode, real_ids))
            def run(case: Any) -> None:
                response = case.call_and_validate(headers=headers, checks=CHECKS)
                statuses[case.operation.label][response.status_code] += 1

            run()

    total = sum(sum(counter.values()) for counter in statuses.values())
    figure = f"schemathesis: {total} inputs over {len(operations)} operations, 0 5xx"
    with capsys.disabled():
        print(f"\n{figure}")
    # Every operation ran, and the token took every one past authentication at least once.
    assert all(counter for counter in statuses.values())
    assert [label for label, counter in statuses.items() if set(counter) == {401}] == []
    assert sum(n for counter in statuses.values() for s, n in counter.items() if s < 300) > 0
