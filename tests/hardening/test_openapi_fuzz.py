"""schemathesis against the server's own OpenAPI spec, in process (ASGI), with a valid token (the
spec is fetched with it too: it is behind the token unless the server runs with --open-docs).

Every operation gets generated requests, valid and invalid per the spec (schemathesis' positive
and negative modes), and two checks: no 5xx, and every documented answer matches its documented
schema. The app is the one `assay serve --registry` builds, with a 1 MB request limit.

Bounded: a fixed number of examples per operation, replayed identically run to run
(derandomized hypothesis). The drift operations (monitor, monitor.html) run a drift check per
call (a LightGBM classifier among other tests), so they get fewer examples. A third of the cases
keep a generated model name (an unknown name must give a clean 404); the rest go to the served
model, or every body would stop at that 404.

Checks left out, and why:
  status_code_conformance   FastAPI documents 422 only; the API also answers 401 (no token,
                            documented on predict), 404 (unknown model), 413 and 415 on every
                            route that takes a body. Those codes are tested on their own, with
                            their messages, in test_security.py.
  the stateful phase        the API has no links between operations to follow.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance]
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def operations(served):
    # the spec, like every path but the probes and the web app's shell, needs the token by default
    schema = schemathesis.openapi.from_asgi("/openapi.json", served.client.app, headers=_auth(served))
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 10, [o.label for o in found]
    return found


def _auth(served) -> dict:
    return {"Authorization": f"Bearer {served.token}"}


def _fuzz(operation, served, examples: int) -> Counter:
    """`examples` generated requests to one operation; returns how many got each status."""
    named = any(p.name == "name" for p in operation.path_parameters)
    served_model = {"path_parameters": {"name": "churn"}} if named else {}
    choices = [
        operation.as_strategy(GenerationMode.POSITIVE, **served_model),
        operation.as_strategy(GenerationMode.NEGATIVE, **served_model),
        operation.as_strategy(GenerationMode.POSITIVE),  # any model name: unknown ones must 404 cleanly
    ]
    if operation.label == "POST /v1/models/{name}/predict":  # rows of the model's columns, odd values
        choices.append(
            _records(served).flatmap(
                lambda rows: operation.as_strategy(
                    path_parameters={"name": "churn"}, body={"records": rows}, media_type="application/json"
                )
            )
        )
    cases = st.one_of(*choices)
    sent = Counter()

    @given(case=cases)
    @settings(max_examples=examples, **SETTINGS)
    def run(case):
        response = case.call_and_validate(headers=_auth(served), checks=CHECKS)
        sent[response.status_code] += 1

    run()
    print(operation.label, dict(sent))  # shown with -s: what the fuzzing reached
    return sent


def _records(served):
    """Records with the served model's columns (and now and then one it does not know), each value
    anything JSON allows: these get past the request's schema and reach the model."""
    columns = served.client.get("/v1/models/churn", headers=_auth(served)).json()
    value = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(["red", "green", "blue", "RED", " red", "", "nan", "1e999", "-0"]),
    )
    row = st.fixed_dictionaries({c["name"]: value for c in columns["columns"]}, optional={"unknown": value})
    return st.lists(row, min_size=1, max_size=5)


def test_no_server_error_and_answers_match_the_spec(operations, served):
    start, sent = time.monotonic(), {}
    for operation in operations:
        if not re.search(r"/monitor", operation.path):
            sent[operation.label] = _fuzz(operation, served, examples=50)
    assert all(n.total() > 0 for n in sent.values()), sent
    # the generated requests reach the model, not only the validation layer
    assert sent["POST /v1/models/{name}/predict"][200] > 0 and sent["GET /v1/models/{name}"][200] > 0, sent
    assert time.monotonic() - start < 60, sent


def test_drift_operations_no_server_error_and_answers_match_the_spec(operations, served):
    sent = {o.label: _fuzz(o, served, examples=4) for o in operations if re.search(r"/monitor", o.path)}
    assert len(sent) == 2 and all(n.total() > 0 for n in sent.values()), sent
