"""REC-03, REC-06: the police ask for a recording through a defined process, and
subject access requests are logged and tracked. A police request records the officer,
their force, the crime reference and the reason; the security manager approves it,
which gives a link that needs no account and works until it expires or is used up;
every use is audited. A subject access request is due one calendar month after it was
received, holds the recording while open, and reminds the security manager."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from lonewatch.core.models import AuditEvent
from lonewatch.notify.models import Delivery
from lonewatch.recordings import actions
from lonewatch.recordings.models import AccessRequest
from tests.recordings.conftest import AUDIO, later

pytestmark = pytest.mark.django_db

REQUEST = {"officer": "DC 4471 Priya Shah", "force": "Cambridgeshire Constabulary",
           "crime_reference": "CC/2026/7781", "reason": "Assault on a nurse: evidence"}


def _link_secret(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def test_rec_03_a_police_link_works_until_it_is_used_up_and_every_use_is_audited(
        make, trust):
    made = make("red", close="genuine")
    leslie = trust.people["leslie"].user
    request = actions.do_request_access(actions.recording_of(made.alarm), actor=leslie,
                                        **REQUEST)
    assert request.state == "waiting"
    # Before approval there is no link; only the security manager approves.
    with pytest.raises(PermissionDenied):
        actions.do_approve_access(request, actor=trust.people["olivia"].user, days=3, uses=2)
    request, secret = actions.do_approve_access(request, actor=leslie, days=3, uses=2)
    assert AccessRequest.objects.get().link_digest != secret  # only its digest is kept

    officer = Client()  # no account
    page = officer.get(f"/police/{secret}")
    assert page.status_code == 200 and "CC/2026/7781" in page.content.decode()
    assert "Download the recording" in page.content.decode()
    for use in (1, 2):
        got = officer.get(f"/police/{secret}/takes/1")
        assert got.status_code == 200 and got.content == b"".join(AUDIO), use
        assert got["Content-Disposition"].startswith("attachment")
    used_up = officer.get(f"/police/{secret}/takes/1")
    assert used_up.status_code == 410
    assert officer.get(f"/police/{secret}").status_code == 410
    uses = AuditEvent.objects.filter(action="recording.police_download")
    assert uses.count() == 2
    assert all(e.actor_label == "police: DC 4471 Priya Shah" for e in uses)
    assert "CC/2026/7781" in uses.first().summary


def test_rec_03_a_police_link_stops_when_it_expires_or_is_withdrawn(make, trust, at,
                                                                  time_machine):
    at()
    made = make("red", close="genuine")
    leslie = trust.people["leslie"].user
    recording = actions.recording_of(made.alarm)
    first = actions.do_request_access(recording, actor=leslie, **REQUEST)
    first, expiring = actions.do_approve_access(first, actor=leslie, days=1, uses=5)
    second = actions.do_request_access(recording, actor=leslie, **REQUEST)
    second, withdrawn = actions.do_approve_access(second, actor=leslie, days=7, uses=5)
    officer = Client()
    assert officer.get(f"/police/{expiring}/takes/1").status_code == 200
    actions.do_revoke_access(second, actor=leslie)
    assert officer.get(f"/police/{withdrawn}/takes/1").status_code == 410
    later(time_machine, timedelta(days=1))
    assert officer.get(f"/police/{expiring}/takes/1").status_code == 410
    assert officer.get("/police/a-guess/takes/1").status_code == 410


def test_rec_03_a_police_request_needs_its_facts_and_changes_nothing_without_them(
        make, trust):
    made = make("red", close="genuine")
    leslie = trust.people["leslie"].user
    recording = actions.recording_of(made.alarm)
    for missing in REQUEST:
        with pytest.raises(actions.RecordingError) as refused:
            actions.do_request_access(recording, actor=leslie,
                                      **(REQUEST | {missing: "  "}))
        assert refused.value.field == missing
    assert not AccessRequest.objects.exists()
    request = actions.do_request_access(recording, actor=leslie, **REQUEST)
    for days, uses in ((0, 1), (8, 1), (3, 0), (3, 6)):
        with pytest.raises(actions.RecordingError):
            actions.do_approve_access(request, actor=leslie, days=days, uses=uses)
    request.refresh_from_db()
    assert request.state == "waiting" and not request.link_digest
    with pytest.raises(actions.RecordingError, match="refusing"):
        actions.do_refuse_access(request, actor=leslie, note="")
    actions.do_refuse_access(request, actor=leslie, note="No crime number on the force system")
    with pytest.raises(actions.RecordingConflict):
        actions.do_approve_access(request, actor=leslie, days=3, uses=2)


def test_rec_06_a_subject_access_request_is_due_in_a_month_holds_and_reminds(
        make, trust, at, time_machine):
    at()  # 23 November 2026
    made = make("red", close="false_alarm")
    leslie = trust.people["leslie"].user
    recording = actions.recording_of(made.alarm)
    sar = actions.do_log_subject_access(recording, actor=leslie, requester="Nina",
                                        received_on=date(2026, 11, 20))
    assert sar.due_on == date(2026, 12, 20)
    assert sar.hold.in_force
    later(time_machine, timedelta(days=2))
    assert actions.destroy_due() == 0  # past its 24 hours, but held
    assert actions.remind_subject_access() == 0
    later(time_machine, timedelta(days=19))  # 14 December: within a week of the due date
    assert actions.remind_subject_access() == 1
    assert actions.remind_subject_access() == 0
    later(time_machine, timedelta(days=6))  # 20 December: due today
    assert actions.remind_subject_access() == 1
    told = Delivery.objects.filter(purpose="subject_access_due", channel="in_app")
    assert told.count() == 2 and {d.recipient.full_name for d in told} == {"Leslie"}
    assert "due today" in told.order_by("pk").last().subject
    with pytest.raises(actions.RecordingError, match="withheld"):
        actions.do_close_subject_access(sar, actor=leslie, outcome="partly_provided")
    actions.do_close_subject_access(sar, actor=leslie, outcome="provided",
                                    note="Sent by secure email")
    sar.refresh_from_db()
    assert not sar.hold.in_force and sar.outcome == "provided"
    assert actions.destroy_due() == 1  # the hold is gone: the false alarm goes


def test_rec_06_bad_subject_access_input_changes_nothing(make, trust, at):
    at()
    made = make("red", close="genuine")
    leslie = trust.people["leslie"].user
    recording = actions.recording_of(made.alarm)
    with pytest.raises(actions.RecordingError, match="name"):
        actions.do_log_subject_access(recording, actor=leslie, requester="",
                                      received_on=date(2026, 11, 20))
    with pytest.raises(actions.RecordingError, match="future"):
        actions.do_log_subject_access(recording, actor=leslie, requester="Nina",
                                      received_on=date(2027, 1, 1))
    assert not recording.subject_access_requests.exists() and not recording.holds.exists()


def test_rec_03_the_api_records_approves_and_gives_the_link_once(make, trust, client):
    from tests.conftest import bearer, post

    made = make("red", close="genuine")
    leslie = bearer(trust.people["leslie"])
    made_request = post(client, f"/api/v1/recordings/{made.alarm.pk}/access-requests",
                        leslie, REQUEST)
    assert made_request.status_code == 201 and made_request.json()["link"] is None
    approve = f"/api/v1/recording-access-requests/{made_request.json()['id']}/approve"
    assert post(client, approve, leslie, {"days": 9, "uses": 1}).status_code == 400
    assert post(client, approve, bearer(trust.people["olivia"]),
                {"days": 2, "uses": 1}).status_code == 404  # not hers to see
    approved = post(client, approve, leslie, {"days": 2, "uses": 1})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    link = approved.json()["link"]
    assert link.startswith("http") and "/police/" in link
    assert post(client, approve, leslie, {"days": 2, "uses": 1}).status_code == 409
    officer = Client()
    assert officer.get(f"/police/{_link_secret(link)}/takes/1").status_code == 200
    assert officer.get(f"/police/{_link_secret(link)}/takes/1").status_code == 410
    listed = client.get("/api/v1/reviews", headers=leslie)
    assert listed.status_code == 200
