"""RSK-05: the governance dashboard. Each figure against a hand-built trust whose
escalations, alarms, reviews, visits, activity lists, SOPs and risks are known; red,
amber and green against the columns' defaults and the security manager's thresholds;
who sees the trust, a directorate and a team; the CSV and the XLSX as a committee reads
them; and a query count that does not grow with the number of teams."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from lonewatch import clock
from lonewatch.accounts.models import User
from lonewatch.alarms.models import Alarm
from lonewatch.core import figures
from lonewatch.core.figures import Figure
from lonewatch.core.models import AuditEvent
from lonewatch.escalation.models import Escalation
from lonewatch.governance import actions, dashboard
from lonewatch.governance.models import Activity, Risk, Sop, Submission, Threshold
from lonewatch.org.models import Directorate, Organisation, Person, RoleMembership, Team
from lonewatch.org.roles import Role, Scope
from lonewatch.recordings.models import Review
from lonewatch.visits.models import Session
from tests.conftest import bearer, login

pytestmark = pytest.mark.django_db


def _session(worker, *, days_ago=10, **extra):
    started = clock.now() - timedelta(days=days_ago)
    values = {"kind": Session.Kind.VISIT, "address": "1 Mill Lane", "planned_start": started,
              "planned_end": started + timedelta(hours=1), "buddy": worker,
              "interval_seconds": 900, "state": Session.State.ENDED, "started_at": started,
              "ended_at": started + timedelta(hours=1), "last_contact_at": started}
    return Session.objects.create(worker=worker, **(values | extra))


def _escalation(worker, *, days_ago=10, outcome=Escalation.Outcome.SAFE):
    session = _session(worker, days_ago=days_ago)
    return Escalation.objects.create(
        session=session, state=Escalation.State.RESOLVED, missed_at=session.started_at,
        steps=[], resolved_at=session.started_at + timedelta(minutes=30), outcome=outcome)


def _alarm(worker, *, days_ago=5, kind=Alarm.Kind.RED, category=Alarm.Category.GENUINE,
           drill=False):
    raised = clock.now() - timedelta(days=days_ago)
    return Alarm.objects.create(
        organisation=worker.organisation, worker=worker, kind=kind, drill=drill,
        state=Alarm.State.CLOSED if category else Alarm.State.RAISED, raised_at=raised,
        category=category, closed_at=raised + timedelta(minutes=20) if category else None)


def _submission(team, version, state, *, named=(), review_in_days=300):
    submission = Submission.objects.create(
        team=team, version=version, state=state, created_at=clock.now(),
        review_on=(clock.now() + timedelta(days=review_in_days)).date()
        if state == Submission.State.ACCEPTED else None)
    activity = Activity.objects.create(submission=submission, title="Home visits")
    activity.people.set(named)
    return submission


def _sop(team, version, state, author, *, review_in_days=200):
    return Sop.objects.create(
        team=team, version=version, state=state, author=author, created_at=clock.now(),
        review_on=(clock.now() + timedelta(days=review_in_days)).date()
        if state == Sop.State.APPROVED else None)


def _risk(trust, team, *, review_in_days):
    return Risk.objects.create(
        organisation=trust.org, level=Risk.Level.TEAM, team=team,
        directorate=team.directorate, title=f"Car park at {team.name}",
        description="Dark", owner=trust.people["maria"], initial_likelihood=3,
        initial_consequence=3, current_likelihood=2, current_consequence=3,
        target_likelihood=1, target_consequence=3, current_score=6,
        review_on=(clock.now() + timedelta(days=review_in_days)).date(),
        created_at=clock.now())


@pytest.fixture
def world(trust, at):
    """The test trust (North and South in Community, the CMHT in Mental Health) at work:

    - missed check-ins in 90 days: Nina 2 (one forgot to check out) and Ben 1 in North,
      Sol 1 (forgot) in South; one of Nina's 100 days ago, not counted;
    - red alerts in 90 days: Nina's genuine one in North and Otto's open one in the CMHT;
      not counted: Nina's drill, her red alert of 120 days ago, Ben's false alarm and
      amber alert;
    - alarm reviews: Nina's overdue, Otto's due next week;
    - high-risk visits in 90 days: Nina's alone at home, Ben's with a colleague (North);
    - activities: North's version 2 accepted (names Nina; version 1 named Ben too), South's
      with the directorate, the CMHT's version 1 accepted (names Otto) and past its
      review, version 2 returned;
    - SOPs: North's approved and in date, South's waiting for approval, the CMHT's
      approved but past its review;
    - risks: North's in date, the CMHT's past its review.
    """
    at(days=0)
    p = trust.people
    nina, ben, sol, otto = p["nina"], p["ben"], p["sol"], p["otto"]
    _escalation(nina, outcome=Escalation.Outcome.FORGOT)
    _escalation(nina, days_ago=20)
    _escalation(nina, days_ago=100, outcome=Escalation.Outcome.FORGOT)
    _escalation(ben, days_ago=3)
    _escalation(sol, outcome=Escalation.Outcome.FORGOT)
    genuine = _alarm(nina)
    _alarm(nina, drill=True)
    _alarm(nina, days_ago=120)
    _alarm(ben, category=Alarm.Category.FALSE)
    _alarm(ben, kind=Alarm.Kind.AMBER, category="")
    open_red = _alarm(otto, category="")
    for alarm, due in ((genuine, -2), (open_red, 7)):
        Review.objects.create(alarm=alarm, organisation_id=trust.org.pk,
                              reason=Review.Reason.CLOSED_SAFELY,
                              opened_at=clock.now() - timedelta(days=10),
                              due_at=clock.now() + timedelta(days=due))
    _session(nina, days_ago=8, risk="high")
    _session(ben, days_ago=8, risk="high", companion="colleague", companion_name="Sam")
    _session(ben, days_ago=8)
    accepted, submitted = Submission.State.ACCEPTED, Submission.State.SUBMITTED
    _submission(trust.north, 1, accepted, named=[nina, ben])
    _submission(trust.north, 2, accepted, named=[nina])
    _submission(trust.south, 1, submitted, named=[sol])
    _submission(trust.cmht, 1, accepted, named=[otto], review_in_days=-3)
    _submission(trust.cmht, 2, Submission.State.RETURNED, named=[otto])
    author = p["maria"].user
    _sop(trust.north, 1, Sop.State.APPROVED, author)
    _sop(trust.south, 1, Sop.State.SUBMITTED, author)
    _sop(trust.cmht, 1, Sop.State.APPROVED, author, review_in_days=-1)
    _sop(trust.cmht, 2, Sop.State.DRAFT, author)
    _risk(trust, trust.north, review_in_days=30)
    _risk(trust, trust.cmht, review_in_days=-10)
    return trust


def _cells(board, level, name):
    row = next(r for r in board.rows if r.level == level and r.name == name)
    return {key: (None if cell is None else (str(cell), cell.colour))
            for key, cell in row.cells.items()}


# --- the columns ---------------------------------------------------------------------


def test_rsk_05_every_app_that_owns_a_figure_registers_its_column():
    owners = {c.key: c.owner for c in figures.columns()}
    assert owners.items() >= {
        "activities_submitted": "governance", "activities_accepted": "governance",
        "activities_review_overdue": "governance", "sop_present": "governance",
        "sop_approved": "governance", "sop_in_date": "governance",
        "lone_workers_named": "governance", "reviews_overdue": "governance",
        "missed_check_ins": "escalation", "forgot_to_check_out": "escalation",
        "red_alerts": "alarms", "alarm_reviews_overdue": "recordings",
        "high_risk_visits_alone": "markers"}.items()
    assert [c.key for c in figures.columns()][:2] == ["activities_submitted",
                                                      "activities_accepted"]
    assert figures.columns() == figures.columns()  # a stable order


def test_rsk_05_a_column_is_one_small_piece_registered_once():
    def nothing(organisation_id, team_ids, now):
        return {}

    column = figures.Column(key="test_only", label="Test", owner="tests", counts="Nothing",
                            per_team=nothing)
    try:
        figures.register(column)
        figures.register(column)  # a ready() that runs again
        assert figures.column("test_only") is column
        with pytest.raises(ValueError, match="already has a column"):
            figures.register(figures.Column(key="test_only", label="Other", owner="x",
                                            counts="", per_team=nothing))
        with pytest.raises(ValueError, match="lower is better"):
            figures.Column(key="bad", label="Bad", owner="x", counts="", per_team=nothing,
                           amber=5, red=1)
    finally:
        figures._columns.pop("test_only", None)


def test_rsk_05_counts_and_parts_of_a_whole_add_up_and_take_their_colours():
    count = figures.column("missed_check_ins")
    part = figures.column("lone_workers_named")
    assert count.total([figures.Figure(3), figures.Figure(1)]) == figures.Figure(4)
    assert part.total([figures.Figure(1, 2), figures.Figure(0, 1)]) == figures.Figure(1, 3)
    assert str(figures.Figure(1, 3)) == "1 of 3 (33%)"
    # Lower is better: amber beyond 2, red beyond 5; a directorate's count per team.
    assert [count.colour(figures.Figure(n), 2, 5) for n in (2, 3, 5, 6)] == \
        ["green", "amber", "amber", "red"]
    assert count.colour(figures.Figure(12), 2, 5, teams=4) == "amber"  # 3 a team
    # Higher is better: amber below 100 %, red below 90 %; 0 of 0 has no colour.
    assert [part.colour(figures.Figure(v, 10), 100, 90) for v in (10, 9, 8)] == \
        ["green", "amber", "red"]
    assert part.colour(figures.Figure(0, 0), 100, 90) == "none"


def test_rsk_05_the_figures_of_each_team_as_the_records_say(world):
    board = dashboard.build(world.people["leslie"].user)
    assert [(r.level, r.name) for r in board.rows] == [
        ("trust", "Test Trust"), ("directorate", "Community"), ("team", "North"),
        ("team", "South"), ("directorate", "Mental Health"), ("team", "CMHT")]
    north, south, cmht = (_cells(board, "team", name) for name in ("North", "South", "CMHT"))
    assert north.items() >= {
        "activities_submitted": ("1 of 1 (100%)", "green"),
        "activities_accepted": ("1 of 1 (100%)", "green"),
        "activities_review_overdue": ("0 of 1 (0%)", "green"),
        "sop_present": ("1 of 1 (100%)", "green"),
        "sop_approved": ("1 of 1 (100%)", "green"),
        "sop_in_date": ("1 of 1 (100%)", "green"),
        "lone_workers_named": ("1 of 2 (50%)", "red"),  # Ben only in version 1
        "reviews_overdue": ("0", "green"),
        "missed_check_ins": ("3", "amber"),
        "forgot_to_check_out": ("1 of 3 (33%)", "amber"),
        "red_alerts": ("1", "amber"),
        "alarm_reviews_overdue": ("1", "amber"),
        "high_risk_visits_alone": ("1 of 2 (50%)", "red"),
    }.items()
    assert south.items() >= {
        "activities_submitted": ("1 of 1 (100%)", "green"),
        "activities_accepted": ("0 of 1 (0%)", "red"),
        "activities_review_overdue": ("0 of 0", "none"),
        "sop_present": ("1 of 1 (100%)", "green"),
        "sop_approved": ("0 of 1 (0%)", "red"),
        "sop_in_date": ("0 of 1 (0%)", "red"),
        "lone_workers_named": ("0 of 1 (0%)", "red"),
        "reviews_overdue": ("0", "green"),
        "missed_check_ins": ("1", "green"),
        "forgot_to_check_out": ("1 of 1 (100%)", "red"),
        "red_alerts": ("0", "green"),
        "alarm_reviews_overdue": ("0", "green"),
        "high_risk_visits_alone": ("0 of 0", "none"),
    }.items()
    assert cmht.items() >= {
        "activities_submitted": ("0 of 1 (0%)", "red"),  # its latest was returned
        "activities_accepted": ("1 of 1 (100%)", "green"),  # version 1 still stands
        "activities_review_overdue": ("1 of 1 (100%)", "red"),
        "sop_present": ("1 of 1 (100%)", "green"),
        "sop_approved": ("1 of 1 (100%)", "green"),
        "sop_in_date": ("0 of 1 (0%)", "red"),
        "lone_workers_named": ("1 of 1 (100%)", "green"),
        "reviews_overdue": ("2", "red"),  # its risk and its SOP
        "missed_check_ins": ("0", "green"),
        "forgot_to_check_out": ("0 of 0", "none"),
        "red_alerts": ("1", "amber"),  # open, not yet found false
        "alarm_reviews_overdue": ("0", "green"),
        "high_risk_visits_alone": ("0 of 0", "none"),
    }.items()


def test_rsk_05_teams_add_up_into_their_directorate_and_the_trust(world):
    board = dashboard.build(world.people["leslie"].user)
    community = _cells(board, "directorate", "Community")
    trust = _cells(board, "trust", "Test Trust")
    assert community["missed_check_ins"] == ("4", "green")  # 2 a team: not beyond 2
    assert community["forgot_to_check_out"] == ("2 of 4 (50%)", "amber")
    assert community["activities_accepted"] == ("1 of 2 (50%)", "red")
    assert community["lone_workers_named"] == ("1 of 3 (33%)", "red")
    assert trust["missed_check_ins"] == ("4", "green")
    assert trust["red_alerts"] == ("2", "amber")
    assert trust["sop_in_date"] == ("1 of 3 (33%)", "red")
    assert trust["lone_workers_named"] == ("2 of 4 (50%)", "red")
    assert trust["reviews_overdue"] == ("2", "amber")  # 0.67 a team


def test_rsk_05_a_team_drills_down_to_its_people(world):
    board = dashboard.build(world.people["maria"].user, team_id=world.north.pk)
    assert board.level == "team"
    assert [(r.level, r.name) for r in board.rows] == [
        ("team", "North"), ("person", "Ben"), ("person", "Maria"), ("person", "Nina"),
        ("person", "Sarah")]
    nina, ben = _cells(board, "person", "Nina"), _cells(board, "person", "Ben")
    assert nina["missed_check_ins"] == ("2", "green")
    assert nina["forgot_to_check_out"] == ("1 of 2 (50%)", "amber")
    assert nina["red_alerts"] == ("1", "amber")
    assert nina["lone_workers_named"] == ("1 of 1 (100%)", "green")
    assert ben["lone_workers_named"] == ("0 of 1 (0%)", "red")
    assert ben["high_risk_visits_alone"] == ("0 of 1 (0%)", "green")
    assert nina["sop_in_date"] is None  # a team's figure, not a person's
    assert _cells(board, "person", "Maria")["lone_workers_named"] == ("0 of 0", "none")


# --- thresholds ----------------------------------------------------------------------


def test_rsk_05_the_security_manager_sets_thresholds_and_the_colours_follow(world):
    leslie = world.people["leslie"].user
    actions.do_set_threshold(world.org, actor=leslie, column="red_alerts", amber=1, red=3)
    actions.do_set_threshold(world.org, actor=leslie, column="lone_workers_named",
                             amber=50, red=40)
    board = dashboard.build(leslie)
    assert _cells(board, "team", "North")["red_alerts"] == ("1", "green")
    assert _cells(board, "team", "North")["lone_workers_named"] == ("1 of 2 (50%)", "green")
    limits = {c.key: c for c in board.columns}
    assert (limits["red_alerts"].amber, limits["red_alerts"].red,
            limits["red_alerts"].set_by_trust) == (1, 3, True)
    assert limits["missed_check_ins"].set_by_trust is False
    actions.do_set_threshold(world.org, actor=leslie, column="red_alerts", amber=0, red=0)
    assert Threshold.objects.get(column="red_alerts").red == 0
    events = AuditEvent.objects.filter(action="dashboard.threshold").order_by("id")
    assert [(e.changes["before"], e.changes["after"]) for e in events][-1] == (
        {"amber": 1, "red": 3}, {"amber": 0, "red": 0})
    assert events[0].changes["before"]["default"] is True


@pytest.mark.parametrize(("column", "amber", "red", "words"), [
    ("no_such_column", 1, 2, "There is no dashboard column 'no_such_column'"),
    ("missed_check_ins", 5, 2, "lower is better: red (2) must be at or above amber (5)"),
    ("sop_in_date", 80, 95, "higher is better: red (95) must be at or below amber (80)"),
    ("sop_in_date", 120, 95, "a percentage: at most 100"),
    ("red_alerts", -1, 2, "cannot be below 0"),
    ("red_alerts", float("nan"), 2, "must be a number"),
])
def test_rsk_05_thresholds_the_wrong_way_round_are_refused_in_words(trust, column, amber,
                                                                    red, words):
    with pytest.raises(actions.GovernanceError, match=words.replace("(", r"\(")
                       .replace(")", r"\)")):
        actions.do_set_threshold(trust.org, actor=trust.people["leslie"].user,
                                 column=column, amber=amber, red=red)
    assert not Threshold.objects.exists()


@pytest.mark.parametrize("who", ["maria", "claire", "anita", "nina"])
def test_rsk_05_only_the_security_manager_sets_thresholds(trust, who):
    with pytest.raises(PermissionDenied):
        actions.do_set_threshold(trust.org, actor=trust.people[who].user,
                                 column="red_alerts", amber=1, red=2)


# --- who sees what -----------------------------------------------------------------------


@pytest.mark.parametrize(("who", "trust_view", "community", "mental_health", "north",
                          "south", "cmht"), [
    ("leslie", 200, 200, 200, 200, 200, 200),  # security manager: the trust
    ("anita", 200, 200, 200, 200, 200, 200),  # security management director
    ("claire", 403, 200, 404, 200, 200, 404),  # Community's directorate lead
    ("sarah", 403, 200, 404, 200, 200, 404),  # Community's senior manager
    ("maria", 403, 404, 404, 200, 404, 404),  # North's line manager
    ("marcus", 403, 404, 404, 404, 404, 200),  # the CMHT's line manager
    ("nina", 403, 404, 404, 404, 404, 404),  # a lone worker
    ("olivia", 403, 404, 404, 404, 404, 404),  # the alarm centre
])
def test_rsk_05_who_sees_the_trust_a_directorate_and_a_team(client, trust, who, trust_view,
                                                             community, mental_health, north,
                                                             south, cmht):
    headers = bearer(trust.people[who])
    asked = {"": trust_view, f"?directorate_id={trust.community.pk}": community,
             f"?directorate_id={trust.mental_health.pk}": mental_health,
             f"?team_id={trust.north.pk}": north, f"?team_id={trust.south.pk}": south,
             f"?team_id={trust.cmht.pk}": cmht}
    answers = {query: client.get(f"/api/v1/dashboard{query}", headers=headers).status_code
               for query in asked}
    assert answers == asked


def test_rsk_05_a_lone_worker_gets_403_for_the_trust_dashboard_everywhere(client, trust):
    nina = trust.people["nina"]
    headers = bearer(nina)
    for url in ("/api/v1/dashboard", "/api/v1/dashboard.csv", "/api/v1/dashboard.xlsx"):
        response = client.get(url, headers=headers)
        assert response.status_code == 403, url
        assert "security manager" in response.json()["detail"] or \
            "managers" in response.json()["detail"]
    with pytest.raises(PermissionDenied):
        dashboard.build(nina.user)
    login(client, nina)
    assert client.get("/dashboard/").status_code == 403
    assert ("dashboard", "Dashboard") not in client.get("/").context["nav_items"]


def test_rsk_05_another_trusts_team_is_not_there(client, trust):
    other = Team.objects.create(name="Elsewhere", directorate=Directorate.objects.create(
        organisation=Organisation.objects.create(name="Other Trust"), name="Other"))
    with pytest.raises(Http404):
        dashboard.build(trust.people["leslie"].user, team_id=other.pk)
    response = client.get(f"/api/v1/dashboard?directorate_id={other.directorate_id}",
                          headers=bearer(trust.people["leslie"]))
    assert response.status_code == 404


def test_rsk_05_the_api_gives_columns_thresholds_rows_and_cells(client, world):
    response = client.get("/api/v1/dashboard", headers=bearer(world.people["anita"]))
    assert response.status_code == 200
    body = response.json()
    assert (body["level"], body["organisation"], body["directorate_id"]) == (
        "trust", "Test Trust", None)
    column = next(c for c in body["columns"] if c["key"] == "high_risk_visits_alone")
    assert (column["label"], column["owner"], column["kind"], column["good"],
            column["amber"], column["red"], column["per_person"]) == (
        "High-risk visits made alone", "markers", "fraction", "lower", 0, 10, True)
    north = next(r for r in body["rows"] if r["level"] == "team" and r["name"] == "North")
    assert north["id"] == world.north.pk and north["directorate_id"] == world.community.pk
    assert north["cells"]["high_risk_visits_alone"] == {
        "value": 1, "out_of": 2, "percent": 50.0, "colour": "red", "colour_words": "Red"}
    assert north["cells"]["missed_check_ins"]["out_of"] is None
    team = client.get(f"/api/v1/dashboard?team_id={world.north.pk}",
                      headers=bearer(world.people["maria"])).json()
    assert [r["level"] for r in team["rows"]] == ["team"] + ["person"] * 4
    assert team["rows"][1]["cells"]["sop_in_date"] is None


def test_rsk_05_thresholds_over_the_api(client, trust):
    leslie, maria = bearer(trust.people["leslie"]), bearer(trust.people["maria"])
    url = "/api/v1/dashboard/thresholds/red_alerts"
    response = client.put(url, {"amber": 1, "red": 4}, content_type="application/json",
                          headers=leslie)
    assert response.status_code == 200, response.content
    assert (response.json()["amber"], response.json()["red"],
            response.json()["set_by_trust"]) == (1, 4, True)
    wrong = client.put(url, {"amber": 4, "red": 1}, content_type="application/json",
                       headers=leslie)
    assert wrong.status_code == 400
    assert "red (1) must be at or above amber (4)" in wrong.json()["detail"]
    unknown = client.put("/api/v1/dashboard/thresholds/happiness", {"amber": 1, "red": 2},
                         content_type="application/json", headers=leslie)
    assert unknown.status_code == 400
    assert "column must be one of" in unknown.json()["detail"]
    refused = client.put(url, {"amber": 1, "red": 2}, content_type="application/json",
                         headers=maria)
    assert refused.status_code == 403
    assert Threshold.objects.get().red == 4


# --- the page and the exports ---------------------------------------------------------


def test_rsk_05_the_page_drills_down_from_trust_to_person(client, world):
    login(client, world.people["leslie"], verified=True)
    page = client.get("/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/dashboard/?directorate={world.community.pk}"' in html
    assert f'href="/dashboard/?team={world.north.pk}"' in html
    assert 'nhsuk-tag nhsuk-tag--red">Red</strong>' in html
    assert 'nhsuk-tag nhsuk-tag--orange">Amber</strong>' in html
    assert "?format=xlsx" in html and "?format=csv" in html
    assert ("dashboard", "Dashboard") in page.context["nav_items"]
    team = client.get(f"/dashboard/?team={world.north.pk}").content.decode()
    assert f'href="/people/{world.people["nina"].pk}/"' in team
    assert client.get("/dashboard/?team=abc").status_code == 404


def test_rsk_05_the_page_opens_where_its_reader_stands(client, trust):
    login(client, trust.people["claire"])
    assert client.get("/dashboard/")["Location"] == \
        f"/dashboard/?directorate={trust.community.pk}"
    login(client, trust.people["maria"])
    assert client.get("/dashboard/")["Location"] == f"/dashboard/?team={trust.north.pk}"
    page = client.get(f"/dashboard/?team={trust.north.pk}")
    assert page.status_code == 200
    assert client.get(f"/dashboard/?directorate={trust.community.pk}").status_code == 404


def test_rsk_05_the_csv_for_committee_papers(client, world):
    response = client.get(f"/api/v1/dashboard.csv?directorate_id={world.community.pk}",
                          headers=bearer(world.people["claire"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["Level"], r["Name"]) for r in rows] == [
        ("Directorate", "Community"), ("Team", "North"), ("Team", "South")]
    north = rows[1]
    assert (north["Directorate"], north["Team"]) == ("Community", "North")
    assert (north["Lone workers identified"], north["Lone workers identified: out of"],
            north["Lone workers identified: RAG"]) == ("1", "2", "Red")
    assert (north["Missed check-ins"], north["Missed check-ins: RAG"]) == ("3", "Amber")
    assert "Missed check-ins: out of" not in north  # a count has no whole


def test_rsk_05_names_do_not_run_as_formulas_in_a_spreadsheet(world):
    world.north.name = "=HYPERLINK(\"http://x\")"
    world.north.save()
    board = dashboard.build(world.people["leslie"].user)
    assert "'=HYPERLINK" in dashboard.to_csv(board)
    sheet = load_workbook(io.BytesIO(dashboard.to_xlsx(board)))["Dashboard"]
    found = [c for row in sheet.iter_rows() for c in row if c.value == world.north.name]
    assert found and all(c.data_type == "s" for c in found)


def test_rsk_05_the_xlsx_is_coloured_red_amber_and_green(client, world):
    response = client.get("/api/v1/dashboard.xlsx", headers=bearer(world.people["leslie"]))
    assert response.status_code == 200
    assert response["Content-Type"] == \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["Dashboard"]
    header = [c.value for c in sheet[3]]
    rows = {(row[0].value, row[3].value): row for row in sheet.iter_rows(min_row=4)}
    north = rows[("Team", "North")]

    def at(label):
        return north[header.index(label)]

    assert (at("High-risk visits made alone").value,
            at("High-risk visits made alone: out of").value,
            at("High-risk visits made alone: RAG").value) == (1, 2, "Red")
    assert at("High-risk visits made alone").fill.start_color.rgb.endswith("FFC7CE")
    assert at("Missed check-ins").fill.start_color.rgb.endswith("FFEB9C")  # amber
    assert at("SOP in date").fill.start_color.rgb.endswith("C6EFCE")  # green
    assert at("SOP in date: RAG").value == "Green"
    assert rows[("Trust", "Test Trust")][header.index("Red alerts")].value == 2
    about = {row[1].value: row for row in book["Columns"].iter_rows(min_row=2)}
    assert about["red_alerts"][3].value == "alarms"
    assert about["red_alerts"][5].value == "0 a team"


# --- queries -------------------------------------------------------------------------------


def _trust_of(teams: int):
    """A trust of ``teams`` teams in two directorates, each with a line manager and two
    lone workers who missed a check-in, raised a red alert and are named in the team's
    accepted activities; each team with an approved SOP and a risk. And its security
    manager, freshly loaded (no roles cached)."""
    organisation = Organisation.objects.create(name=f"Trust of {teams}")
    directorates = [Directorate.objects.create(organisation=organisation, name=f"D{n}")
                    for n in range(2)]

    def person(name, team, role, scope=Scope.OWN):
        user = User.objects.create_user(username=f"{name}-{teams}", password="x" * 12)
        found = Person.objects.create(user=user, organisation=organisation, team=team,
                                      full_name=name)
        RoleMembership.objects.create(person=found, role=role, scope=scope,
                                      team=team if scope == Scope.TEAM else None)
        return found

    for n in range(teams):
        team = Team.objects.create(directorate=directorates[n % 2], name=f"Team {n}")
        manager = person(f"Manager {n}", team, Role.LINE_MANAGER, Scope.TEAM)
        workers = [person(f"Worker {n}.{k}", team, Role.LONE_WORKER) for k in range(2)]
        for worker in workers:
            _escalation(worker, outcome=Escalation.Outcome.FORGOT)
            _alarm(worker)
        _submission(team, 1, Submission.State.ACCEPTED, named=workers)
        _sop(team, 1, Sop.State.APPROVED, manager.user)
        Risk.objects.create(
            organisation=organisation, level=Risk.Level.TEAM, team=team,
            directorate=team.directorate, title="Car park", description="Dark",
            owner=manager, initial_likelihood=2, initial_consequence=2,
            current_likelihood=2, current_consequence=2, target_likelihood=1,
            target_consequence=2, current_score=4, review_on=clock.now().date(),
            created_at=clock.now())
    leslie = person("Leslie", None, Role.SECURITY_MANAGER, Scope.ORGANISATION)
    return User.objects.get(pk=leslie.user_id)


def test_rsk_05_the_query_count_does_not_grow_with_the_number_of_teams(at):
    at(days=0)
    counts = {}
    for teams in (2, 6):
        user = _trust_of(teams)
        with CaptureQueriesContext(connection) as queries:
            board = dashboard.build(user)
        assert len([r for r in board.rows if r.level == "team"]) == teams
        assert _cells(board, "directorate", "D0")["missed_check_ins"][0] == str(teams // 2 * 2)
        counts[teams] = len(queries)
    assert counts[2] == counts[6], counts
    # The caller, their roles and their trust, the thresholds, the directorates and the
    # teams; one query for each column, but three for the lone workers named (the lists in
    # force, the members, those named), two for the reviews overdue (risks, SOPs) and one
    # for the two columns of missed check-ins (a shared count); and one for each column
    # that keeps the reader's own duress alarms from them (MOV-04).
    unseen = sum(1 for c in figures.columns() if c.unseen_by is not None)
    assert counts[6] == 6 + len(figures.columns()) + 3 - 1 + unseen, counts


def test_rsk_05_a_shared_count_is_made_once_a_reading_and_afresh_for_the_next():
    calls = []

    @figures.shared
    def count(organisation_id, team_ids, now):
        calls.append(team_ids)
        return {1: Figure(len(calls))}

    now = clock.now()
    with figures.one_reading():
        assert count(1, [1, 2], now) == count(1, [1, 2], now) == {1: Figure(1)}
        assert count(1, [3], now) == {1: Figure(2)}  # other teams: counted on their own
    with figures.one_reading():  # the next reading sees what has changed since
        assert count(1, [1, 2], now) == {1: Figure(3)}
    assert count(1, [1, 2], now) == {1: Figure(4)}  # outside a reading: every time
