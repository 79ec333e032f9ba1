"""ALM-02, ALM-03: the alarm centre's console and event stream, and who sees an alarm:
the buddy of the session being watched, the console with its map and next of kin."""



from lonewatch import clock
from lonewatch.alarms.models import Alarm
from lonewatch.notify.models import Delivery
from lonewatch.visits.actions import close
from tests.conftest import bearer, post


def test_org_03_buddy_sees_only_the_alarms_of_the_session_being_watched(client, trust, desk,
                                                                         start_session):
    """Q-SEC, ORG-03: the buddy sees a worker's alerts only while watching a running
    session, and only that session's: not the worker's history, not what they raised
    before or after."""
    before = post(client, "/api/v1/ambers", desk["nina"], {"message": "dog"}).json()["id"]
    assert client.get(f"/api/v1/alarms/{before}", headers=desk["ben"]).status_code == 404
    session = start_session(interval=900)
    during = post(client, "/api/v1/ambers", desk["nina"], {"message": "gate"}).json()["id"]
    assert client.get(f"/api/v1/alarms/{during}", headers=desk["ben"]).status_code == 200
    assert client.get(f"/api/v1/alarms/{before}", headers=desk["ben"]).status_code == 404
    listed = {a["id"] for a in client.get("/api/v1/alarms", headers=desk["ben"]).json()}
    assert during in listed and before not in listed
    otto = bearer(trust.people["otto"])
    assert client.get(f"/api/v1/alarms/{during}", headers=otto).status_code == 404
    close(session, clock.now())
    assert client.get(f"/api/v1/alarms/{during}", headers=desk["ben"]).status_code == 404


def test_alm_02_event_stream_sends_each_change_and_resumes_after_last_event_id(
        transactional_db, client, trust, desk, settings):
    # transactional_db: the stream's hub reads committed rows from its own thread.
    from lonewatch.alarms import stream

    settings.ALARM_STREAM_POLL_SECONDS = 0.01
    olivia = trust.people["olivia"].user
    live = stream.events(olivia, None, seconds=5)
    assert next(live) == "retry: 1000\n\n"
    assert next(live) == ":\n\n"  # nothing new yet
    aid = post(client, "/api/v1/alarms", desk["nina"], {"lat": 52.6, "lon": 0.2}).json()["id"]
    first = next(live)
    assert first.startswith("id: ") and "event: alarm.raised" in first
    assert f'"id": {aid}' in first and '"name": "Nina"' in first
    seen = int(first.split("\n")[0].removeprefix("id: "))
    # The console is away while the alarm is acknowledged, then reconnects.
    post(client, f"/api/v1/alarms/{aid}/acknowledge", desk["olivia"])
    resumed = stream.events(olivia, str(seen), seconds=5)
    next(resumed)
    missed = next(resumed)
    assert "event: alarm.acknowledged" in missed and '"state": "acknowledged"' in missed
    # Someone who may not see the alarm gets nothing about it.
    otto = stream.events(trust.people["otto"].user, str(seen - 1), seconds=5)
    next(otto)
    assert next(otto) == ":\n\n"


def test_alm_02_api_event_stream_is_server_sent_events(client, trust, desk):
    response = client.get("/api/v1/alarms/events", headers=desk["olivia"])
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert next(iter(response.streaming_content)) == b"retry: 1000\n\n"


def test_alm_03_console_shows_loudest_first_and_handles_an_alarm(client, trust, desk,
                                                                 as_person):
    post(client, "/api/v1/ambers", desk["nina"], {"message": "dog"})
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    console = as_person(trust.people["olivia"], verified=True)
    page = console.get("/console/").content.decode()
    assert page.index("Red alerts waiting (1)") < page.index("Amber alerts")
    assert "data-loud" in page and "On duty" in page
    console.post(f"/console/alarms/{aid}/acknowledge")
    console.post(f"/console/alarms/{aid}/close", {"category": "false_alarm"})
    assert Alarm.objects.get(pk=aid).state == "acknowledged"  # refused: no agreement
    console.post(f"/console/alarms/{aid}/close", {"category": "false_alarm",
                                                  "worker_agreed": "yes"})
    assert Alarm.objects.get(pk=aid).state == "closed"
    assert as_person(trust.people["maria"]).get("/console/").status_code == 403


def test_alm_02_console_map_uses_the_configured_tiles_or_none(trust, desk, as_person,
                                                              settings):
    console = as_person(trust.people["olivia"], verified=True)
    page = console.get("/console/").content.decode()
    assert 'data-tiles=""' in page and "vendor/leaflet/leaflet.js" in page
    settings.MAP_TILE_URL = "https://tiles.example.nhs.uk/{z}/{x}/{y}.png"
    settings.MAP_ATTRIBUTION = "Map data © OpenStreetMap contributors"
    page = console.get("/console/").content.decode()
    assert 'data-tiles="https://tiles.example.nhs.uk/{z}/{x}/{y}.png"' in page
    assert 'data-attribution="Map data © OpenStreetMap contributors"' in page


def test_alm_01_buddy_sees_the_amber_of_the_worker_they_watch(trust, start_session):
    """An amber is logged, visible to the buddy (while they watch) and raises nothing loud."""
    from django.test import Client

    from lonewatch.alarms.actions import do_raise
    from tests.conftest import login

    start_session(interval=600)
    nina = trust.people["nina"]
    do_raise(nina, actor=nina.user, kind="amber", message="Dog loose in the garden")
    assert not Delivery.objects.filter(purpose="alarm_raised").exists()
    page = login(Client(), trust.people["ben"]).get("/buddy/").content.decode()
    assert "Amber alert" in page and "Dog loose in the garden" in page
    other = login(Client(), trust.people["sol"]).get("/buddy/").content.decode()
    assert "Dog loose in the garden" not in other


def test_alm_02_console_shows_who_what_where_and_next_of_kin_while_the_alarm_is_open(
        client, trust, desk, as_person, start_session):
    """The operator sees the worker's description, vehicle, planned visit and last
    check-ins; next of kin only while a red alarm is open, and every showing audited."""
    from lonewatch.core.models import AuditEvent
    from lonewatch.org.models import NextOfKin
    from lonewatch.visits import actions as visit_actions

    nina = trust.people["nina"]
    nina.description = "Tall, short grey hair, navy uniform"
    nina.vehicle_description = "Blue Corsa AB12 CDE"
    nina.location_consent_at = clock.now()
    nina.save()
    NextOfKin.objects.create(person=nina, name="Sam Green", relationship="Partner",
                             phone="+447700900555")
    session = start_session(interval=600)
    visit_actions.do_check_in(session, actor=nina.user, lat=52.66, lon=0.16, accuracy_m=12)
    console = as_person(trust.people["olivia"], verified=True)
    assert console.get(f"/people/{nina.pk}/next-of-kin").status_code == 403  # no alarm yet
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    page = console.get("/console/").content.decode()
    for fact in ("Tall, short grey hair, navy uniform", "Blue Corsa AB12 CDE",
                 "12 Acacia Avenue", "52.66000, 0.16000 (±12 m)", "Show next of kin"):
        assert fact in page, fact
    kin = console.get(f"/people/{nina.pk}/next-of-kin")
    assert kin.status_code == 200 and "+447700900555" in kin.content.decode()
    assert AuditEvent.objects.filter(action__contains="kin",
                                     actor=trust.people["olivia"].user).count() == 1
    console.post(f"/console/alarms/{aid}/acknowledge")
    console.post(f"/console/alarms/{aid}/close", {"category": "genuine_closed_safely"})
    other = as_person(trust.people["olivia"], verified=True)  # a fresh request's grants
    assert other.get(f"/people/{nina.pk}/next-of-kin").status_code == 403
