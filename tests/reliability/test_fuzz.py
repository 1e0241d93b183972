"""schemathesis against the app's own OpenAPI: every operation, as a resident and as the office, with valid
and invalid data, bounded and derandomized. No 500 anywhere, and every response (errors included) matches
what the document promises. A third of the cases carry control characters (issue 21.1: NUL answered 500 on
PostgreSQL in about twenty places): those must be refused, never stored."""
import hypothesis.strategies as st
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, positive_data_acceptance

MAX_EXAMPLES = 15
SETTINGS = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                    database=None)


# Hypothesis' own text rarely holds a control character; these are put into the generated strings on purpose.
CONTROLS = ("\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x9f")


def _inject(value, char, spent):
    """`value` with `char` in its first string (at any depth); spent[0] says whether one was found."""
    if isinstance(value, str) and not spent[0]:
        spent[0] = True
        return value[: len(value) // 2] + char + value[len(value) // 2:]
    if isinstance(value, dict):
        return {key: _inject(item, char, spent) for key, item in value.items()}
    if isinstance(value, list):
        return [_inject(item, char, spent) for item in value]
    return value


# Ids of the cases that carry a control character.
INJECTED = set()


def _with_control_character(case, char):
    """The case with `char` in a string of its query or JSON body, if it has one (then noted in INJECTED)."""
    spent = [False]
    if case.query:
        case.query = _inject(dict(case.query), char, spent)
    if not spent[0] and isinstance(case.body, (dict, list)) and case.media_type == "application/json":
        case.body = _inject(case.body, char, spent)
    if spent[0]:
        INJECTED.add(case.id)
    return case


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
    calls, refused = [], []
    for operation in operations:
        excluded = [positive_data_acceptance]
        if operation.path == "/readyz":
            # Its documented 503: the test database is built from the models, not by the migrations.
            excluded.append(not_a_server_error)
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE).filter(_keeps_auth),
                             st.tuples(operation.as_strategy(GenerationMode.POSITIVE), st.sampled_from(CONTROLS))
                             .map(lambda pair: _with_control_character(*pair)))

        @SETTINGS
        @given(case=strategy)
        def fuzz(case):
            for headers in callers.values():
                # A schema-valid body may still break a rule no JSON schema states (the bytes of an image, a
                # reply's minimum length in characters, a working-day count the config bounds): a clear 4xx is
                # right there. Every other check stays on, negative_data_rejection included.
                response = case.call_and_validate(headers=headers, excluded_checks=excluded)
                calls.append(operation.label)
                if case.id in INJECTED:
                    refused.append(operation.label)
                    # Refused: 422, unless the caller may not call it at all.
                    assert response.status_code in (401, 403, 422), (operation.label, response.status_code)

        with subtests.test(msg=operation.label):
            fuzz()
    print(f"fuzzed {len(operations)} operations with {len(calls)} calls, {len(refused)} with a control character")
    assert len(set(refused)) >= 25  # 28 of the 50 operations take a string in their query or JSON body
