"""schemathesis against the app's own OpenAPI: every operation, as a resident and as the office, with valid
and invalid data, bounded and derandomized. No 500 anywhere, and every response (errors included) matches
what the document promises."""
import hypothesis.strategies as st
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, positive_data_acceptance

MAX_EXAMPLES = 15
SETTINGS = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                    database=None)


def _keeps_auth(case):
    """False for an invalid case whose invalid part is a missing Authorization header: each call sends ours,
    so it would not be invalid any more (anonymous callers are tests/reliability/test_authorization.py's)."""
    data = case.meta.phase.data
    names = {getattr(data, "parameter", None), *(m.parameter for m in getattr(data, "mutations", None) or [])}
    return "Authorization" not in names


def test_every_operation_answers_as_documented(app, plan, wechat, factories, subtests):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    callers = {"resident": factories.auth(factories.resident_token(factories.resident())),
               "office": factories.auth(factories.staff_token(factories.staff("office")))}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50
    calls = []
    for operation in operations:
        excluded = [positive_data_acceptance]
        if operation.path == "/readyz":
            # Its documented 503: the test database is built from the models, not by the migrations.
            excluded.append(not_a_server_error)
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE).filter(_keeps_auth))

        @SETTINGS
        @given(case=strategy)
        def fuzz(case):
            for headers in callers.values():
                # A schema-valid body may still break a rule no JSON schema states (the bytes of an image, a
                # reply's minimum length in characters, a working-day count the config bounds): a clear 4xx is
                # right there. Every other check stays on, negative_data_rejection included.
                case.call_and_validate(headers=headers, excluded_checks=excluded)
                calls.append(operation.label)

        with subtests.test(msg=operation.label):
            fuzz()
    print(f"fuzzed {len(operations)} operations with {len(calls)} calls")
