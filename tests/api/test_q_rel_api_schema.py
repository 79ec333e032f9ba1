"""Q-REL: the published API description tells the truth, and bad input gets a clear 4xx.

Schemathesis reads /api/openapi.json and sends requests built from it to the real WSGI
application (the check-in fast lane included), in this process, with the token of every
role and with none, mostly to real records: a running session, an overdue one with its
escalation, a red and an amber alert, an absence, a team's policy. Every answer must be
in the schema: no server error, no status code it leaves out, no body unlike the one it
describes, and no request it calls valid refused for a reason it could have stated.
Some valid requests are refused for what only the records can tell (a buddy who has not
accepted, a wrong PIN): those refusals are listed one by one, so a new one is a
decision, not an accident.
"""

import re
import time
from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
from django.contrib.auth.hashers import make_password
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token
from lonewatch.alarms import actions as alarms
from lonewatch.alarms import audio
from lonewatch.alarms.models import Alarm
from lonewatch.escalation import actions as escalations
from lonewatch.escalation import policy
from lonewatch.escalation.models import Escalation, EscalationPolicy, Target
from lonewatch.notify.models import Channel
from lonewatch.org import actions as org
from lonewatch.org.models import Absence
from lonewatch.visits import actions as visits
from lonewatch.visits.models import Session
from lonewatch.wsgi import application
from tests.conftest import token_for

# Every role, by the person in tests/conftest.py who holds it.
ROLES = {
    "lone worker": "nina",
    "buddy": "ben",
    "line manager": "maria",
    "senior manager": "sarah",
    "security manager": "leslie",
    "alarm operator": "olivia",
    "administrator": "adam",
}
# Requests per operation. Valid ones reach the roles and the records; invalid ones need
# fewer to show they are refused. Enough to find what the schema leaves out, few enough
# for the run to take seconds.
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 10, schemathesis.GenerationMode.NEGATIVE: 6}
# The event stream answers for as long as the client listens, so a generated request
# would not end; tests/test_alm_02_stream.py covers it.
NOT_RUN = {"GET /api/v1/alarms/events"}

# A chunk of audio is sent as its bytes, like any binary body.
schemathesis.serializer.alias(list(audio.CONTENT_TYPES), "application/octet-stream")

# Refusals of requests the schema calls valid that only the records, the clock or a
# relation between fields can explain: (status, words).
RECORDS_REFUSE = [
    (400, r"There is no person with id \d+ who can be your (cover )?buddy"),
    (400, r"You cannot be your own buddy"),
    (400, r"has not accepted being your buddy"),
    (400, r"Name a cover buddy before you start"),
    (400, r"cover buddy must be someone other than you"),
    (400, r"is not a buddy in Lonewatch"),
    (400, r"name someone else"),
    (400, r"must not work alone"),
    (400, r"The planned end must be after the planned start"),
    (400, r"The planned end is already in the past"),
    (409, r"You already have a session running"),
    (409, r"This session has already ended"),
    (400, r"Give both latitude and longitude, or neither"),
    (400, r"The place's coordinates are not a real position"),
    (400, r"That PIN is not right"),
    (400, r"Too many wrong PINs"),
    (400, r"Set your check-out PIN"),
    (400, r"Give the emergency services' incident reference"),
    (400, r"A false alarm is closed only with the worker's agreement"),
    (400, r"You have not agreed to your location being kept"),
    (400, r"steps must be in order of after_seconds"),
    (400, r"the end must be after the start"),
    (400, r"That is not a valid NHS number"),  # its check digit
    (400, r"Say who or where the risk is"),
    (400, r"A place needs both its postcode and its house"),
    (400, r"Give a review date in the future"),
    (400, r"Give the (nature|source) of the risk|Give practical advice"),  # blank after trim
    (400, r"Say (which organisation|the role of the person) it was shared with"),
    # PRE-01: a FHIR bundle's Flags are checked as FHIR (fhir.resources) and by the
    # register's rules; the schema states the bundle's outline only.
    (400, r"^The bundle was not imported, nothing was added\."),
    # RSK-01 … RSK-03: records named by id must be the trust's; a level needs its team or
    # directorate; the scores must change.
    (400, r"Some of the (owners|people|themes|risk statements) named are not"),
    (400, r"There is no directorate with id"),
    (400, r"Say which (team|directorate)'s risk it is|The lone-working risk is the org"),
    (400, r"The scores are as they were"),
    (409, r"The trust already has its lone-working risk"),
    # RSK-06: a review names what it is of: a risk, or a team's SOP or activities.
    (400, r"Name the risk to review|Say which team's SOP or activities to review"),
    (400, r"That is not the trust's"),
    # RSK-04: an SOP's themes must be in the catalogue, and a draft needs one to be sent.
    (400, r"There is no theme with id \d+ in the catalogue"),
    (400, r"Choose the activity and risk themes the SOP covers"),
    # RSK-05: a column's red and amber thresholds are checked against each other and, for a
    # part of a whole, as a percentage (the column is in the path, the numbers in the body).
    (400, r"is better: red \(\S+\) must be at or (above|below) amber"),
    (400, r"threshold is a percentage: at most 100"),
    (415, r"The first chunk does not look like"),
    (415, r"This recording is audio/\S+; send the same type"),
]


def _refused_by_the_records(response) -> bool:
    try:
        detail = str(response.json().get("detail", ""))
    except (ValueError, AttributeError):
        return False
    return any(response.status_code == status and re.search(words, detail)
               for status, words in RECORDS_REFUSE)


def valid_data_accepted_unless_the_records_refuse(ctx, response, case):
    """Schemathesis' positive_data_acceptance, but for the refusals in RECORDS_REFUSE."""
    if _refused_by_the_records(response):
        return None
    return checks.positive_data_acceptance(ctx, response, case)


CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          valid_data_accepted_unless_the_records_refuse]
FAILURES = {
    "ServerError": "server error",
    "UndefinedStatusCode": "undocumented status code",
    "UndefinedContentType": "undocumented content type",
    "MissingContentType": "undocumented content type",
    "JsonSchemaError": "body unlike its schema",
    "MalformedJson": "body unlike its schema",
    "RejectedPositiveData": "valid request refused",
}


def _bearer(person) -> dict:
    # Through the action that makes every token; a privileged role gets a privileged
    # token, as if made on the profile after the second factor, so its every endpoint runs.
    return {"Authorization": f"Bearer {token_for(person)}"}


@pytest.fixture
def world(trust, nina_ready, settings, tmp_path):
    """A trust at work: Nina on a visit, with a red and an amber alert; Ben's visit
    overdue and escalating to Nina, his buddy; Olivia on duty; North's own policy; Ben's
    leave booked; Nina's next of kin. Returns each caller's headers and the records."""
    settings.DATA_DIR = tmp_path
    people = trust.people
    nina, ben = nina_ready, people["ben"]
    ben.buddy, ben.buddy_accepted_at = nina, clock.now()
    ben.pin_hash = make_password("1357")
    ben.save()
    now = clock.now()
    visit = {"kind": Session.Kind.VISIT, "address": "12 Acacia Avenue, Wisbech",
             "planned_start": now, "planned_end": now + timedelta(hours=2),
             "interval_seconds": 900}
    running = visits.do_start_session(nina, actor=nina.user, buddy=ben, **visit)
    late = visits.do_start_session(ben, actor=ben.user, buddy=nina, **visit)
    Session.objects.filter(pk=late.pk).update(due_at=now - timedelta(minutes=1))
    assert escalations.start_due() == 1
    alarms.do_duty(people["olivia"], on=True, actor=people["olivia"].user)
    red = alarms.do_raise(nina, actor=nina.user, kind=Alarm.Kind.RED, lat=52.66, lon=0.16)
    amber = alarms.do_raise(nina, actor=nina.user, kind=Alarm.Kind.AMBER, message="Dog")
    policy.do_set_policy(trust.north, [{"after_seconds": 0, "notify": Target.BUDDY,
                                        "channels": [Channel.SMS]}],
                         actor=people["maria"].user)
    leave = org.do_add_absence(ben, reason=Absence.Reason.LEAVE,
                               starts_at=now + timedelta(days=3),
                               ends_at=now + timedelta(days=5), actor=ben.user)
    org.do_add_next_of_kin(nina, actor=nina.user, name="Piotr", relationship="Husband",
                           phone="+447700900911")
    callers = {role: _bearer(people[name]) for role, name in ROLES.items()}
    callers["nobody"] = {}
    callers["a made-up token"] = {"Authorization": "Bearer lw_not-a-real-token"}
    # Hypothesis draws the first and the last of a list most: the worker and the alarm
    # centre, whose requests matter most.
    callers = {name: callers[name] for name in (
        "lone worker", "buddy", "line manager", "nobody", "senior manager",
        "a made-up token", "security manager", "administrator", "alarm operator")}
    old_phone, _raw = do_create_token(nina.user, name="old phone", actor=nina.user)
    records = {
        "person_id": [nina.pk, ben.pk, people["otto"].pk, people["maria"].pk],
        "team_id": [trust.north.pk, trust.south.pk, trust.cmht.pk],
        "session_id": [running.pk, late.pk],
        "escalation_id": list(Escalation.objects.values_list("pk", flat=True)),
        "alarm_id": [red.pk, amber.pk],
        "absence_id": [leave.pk],
        "token_id": [old_phone.pk],
    }
    return callers, records


def _cases(operation, mode, callers, records):
    """Requests to one operation, from every caller (whose token schemathesis then leaves
    alone) and, three times in four, to real records."""
    names = [name for name in re.findall(r"{(\w+)}", operation.path) if name in records]
    order = list(callers)
    if mode.is_negative and not any(len(part) for part in (
            operation.path_parameters, operation.query, operation.headers, operation.body)):
        order = ["nobody"]  # nothing to get wrong but the token
    made = {}

    def strategy(caller, fixed):
        key = (caller, tuple(sorted(fixed.items())))
        if key not in made:
            made[key] = operation.as_strategy(mode, headers=callers[caller] or None,
                                              path_parameters=fixed or None)
        return made[key]

    @st.composite
    def cases(draw):
        caller = draw(st.sampled_from(order))
        fixed = {name: draw(st.sampled_from(records[name])) for name in names
                 if draw(st.integers(0, 3))}
        return caller, draw(strategy(caller, fixed))

    return cases()


def _send_to(operation, mode, callers, records, answers, failures):
    """A Hypothesis test that sends EXAMPLES[mode] requests to one operation and notes
    what each answer gets wrong."""

    @settings(max_examples=EXAMPLES[mode], derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(_cases(operation, mode, callers, records))
    def send(sent):
        caller, case = sent
        response = case.call()
        answers[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except* Exception as group:
            for failure in group.exceptions:
                for one in getattr(failure, "exceptions", [failure]):
                    kind = FAILURES.get(type(one).__name__, type(one).__name__)
                    said = " ".join(f"{one.title}: {one.message}".split())[:300]
                    failures.setdefault(kind, []).append(
                        f"{operation.label} as {caller} ({mode.value}): "
                        f"{response.status_code} {said}")

    return send


# Committed for real: the check-in fast lane on PostgreSQL answers from its own statement.
@pytest.mark.django_db(transaction=True)
def test_q_rel_every_answer_of_the_api_is_described_by_its_schema(world):
    callers, records = world
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    answers, failures = Counter(), {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in NOT_RUN:
            continue
        for mode in EXAMPLES:
            _send_to(operation, mode, callers, records, answers, failures)()
    took = time.monotonic() - started
    counts = {kind: len(found) for kind, found in sorted(failures.items())}
    print(f"\n{sum(answers.values())} requests in {took:.1f} s, answered "
          f"{dict(sorted(answers.items()))}; failures: {counts or 'none'}")
    for kind, found in sorted(failures.items()):
        for line in sorted(set(found)):
            print(f"  {kind}: {line}")
    # The run went past the door: records read and written, and refused every way.
    assert all(answers[status] for status in (200, 201, 400, 401, 403, 404)), answers
    assert not failures, counts


# --- What the run found, pinned -------------------------------------------------------

def test_q_rel_numbers_too_big_for_the_database_are_refused_not_a_server_error(client,
                                                                              trust):
    maria = _bearer(trust.people["maria"])
    for query in ("team_id=99999999999999999999", "offset=99999999999999999999"):
        response = client.get(f"/api/v1/people?{query}", headers=maria)
        assert response.status_code == 400, (query, response.content)
        assert response.json()["detail"].startswith("The request is not valid: ")


def test_q_rel_true_is_not_taken_for_a_position_and_raises_nothing(client, nina_ready):
    response = client.post("/api/v1/alarms", {"lat": True, "lon": 0.16},
                           content_type="application/json", headers=_bearer(nina_ready))
    assert response.status_code == 400
    assert "Latitude must be a number" in response.json()["detail"]
    assert not Alarm.objects.exists()


def test_q_rel_refusals_at_the_edge_say_what_to_change_and_change_nothing(client, trust,
                                                                         nina_ready):
    maria = _bearer(trust.people["maria"])
    url = f"/api/v1/teams/{trust.north.pk}/escalation-policy"
    for steps, words in [
        ([{"after_seconds": 0, "notify": "the_vicar", "channels": ["sms"]}],
         "steps.0.notify must be one of " + ", ".join(Target.values)),
        ([{"after_seconds": 0, "notify": "buddy", "channels": []}],
         "steps.0.channels needs at least 1 item"),
        ([{"after_seconds": -1, "notify": "buddy", "channels": ["sms"]}],
         "steps.0.after_seconds must be at least 0"),
        ([], "a policy needs at least one step"),
    ]:
        response = client.put(url, {"steps": steps}, content_type="application/json",
                              headers=maria)
        assert response.status_code == 400, response.content
        assert words in response.json()["detail"]
        assert response.json()["errors"]
    assert not EscalationPolicy.objects.exists()
    listed = client.get("/api/v1/sessions?state=asleep", headers=maria)
    assert listed.status_code == 400
    assert "state must be one of active, overdue, ended" in listed.json()["detail"]
    now = clock.now()
    started = client.post("/api/v1/sessions", {
        "kind": "visit", "address": "1 Long Lane " * 30, "planned_start": now.isoformat(),
        "planned_end": (now + timedelta(hours=1)).isoformat(),
        "buddy_id": trust.people["ben"].pk, "interval_seconds": 900,
    }, content_type="application/json", headers=_bearer(nina_ready))
    assert started.status_code == 400
    assert "address can be at most 300 characters long" in started.json()["detail"]
    assert not Session.objects.exists()


def test_q_rel_the_schema_takes_its_choices_from_the_models(client, db):
    components = client.get("/api/openapi.json").json()["components"]["schemas"]

    def enum(schema, field):
        found = components[schema]["properties"][field]
        return found.get("enum") or found["items"]["enum"]

    assert enum("SessionIn", "kind") == Session.Kind.values
    assert enum("SessionIn", "travel_mode") == Session.Travel.values
    assert enum("AlarmOut", "state") == Alarm.State.values
    assert enum("AlarmOut", "category") == [*Alarm.Category.values, ""]
    assert enum("CloseIn", "category") == Alarm.Category.values
    assert enum("EscalateIn", "to") == list(alarms.ESCALATE_TO)
    assert enum("ResolveIn", "outcome") == [
        o for o in Escalation.Outcome.values if o != Escalation.Outcome.LATE_CHECK_IN]
    assert enum("StepIO", "notify") == Target.values
    assert enum("StepIO", "channels") == Channel.values
    assert enum("AbsenceIn", "reason") == Absence.Reason.values


def test_q_rel_the_schema_states_the_configured_check_in_interval(client, trust, nina_ready,
                                                                  settings):
    settings.MIN_CHECKIN_INTERVAL_SECONDS = 600
    settings.MAX_CHECKIN_INTERVAL_SECONDS = 7200
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    for schema, field in (("SessionIn", "interval_seconds"), ("ExtendIn", "seconds")):
        stated = schemas[schema]["properties"][field]
        assert (stated["minimum"], stated["maximum"]) == (600, 7200)
    now = clock.now()
    response = client.post("/api/v1/sessions", {
        "kind": "visit", "address": "12 Acacia Avenue", "planned_start": now.isoformat(),
        "planned_end": (now + timedelta(hours=1)).isoformat(),
        "buddy_id": trust.people["ben"].pk, "interval_seconds": 300,
    }, content_type="application/json", headers=_bearer(nina_ready))
    assert response.status_code == 400
    assert "Check in at least every 10 minutes" in response.json()["detail"]
    assert not Session.objects.exists()


def test_q_rel_each_schema_name_means_one_shape():
    """The schema names each request and answer body once: two API modules with a class
    of the same name would share one entry, and one of them would be described wrongly
    (an alarm's audio received was once described as a kept recording)."""
    import inspect

    from ninja import Schema

    from lonewatch.api import urls  # noqa: F401 - every router, loaded

    seen: dict[str, str] = {}
    clashes = []
    import pkgutil

    import lonewatch.api

    for module in sorted(m.name for m in pkgutil.iter_modules(lonewatch.api.__path__)):
        loaded = __import__(f"lonewatch.api.{module}", fromlist=["_"])
        for name, value in vars(loaded).items():
            if inspect.isclass(value) and issubclass(value, Schema) and \
                    value.__module__ == loaded.__name__:
                if name in seen:
                    clashes.append(f"{name} in {seen[name]} and {module}")
                seen[name] = module
    assert not clashes
