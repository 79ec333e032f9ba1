"""ESC-01 channels: phone notifications (web push) and proving that each channel
reaches its person, because an alert "sent" to a mistyped number reaches nobody."""

import json
from types import SimpleNamespace

import pytest

from lonewatch.core.models import AuditEvent
from lonewatch.notify import push
from lonewatch.notify.actions import queue, send_due
from lonewatch.notify.models import ChannelProof, Delivery, PushSubscription
from lonewatch.notify.views import unproved
from tests.conftest import PUBLIC_IP

SUBSCRIPTION = {"endpoint": "https://push.example.invalid/send/abc123",
                "keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-"
                                   "Ts1XbjhazAkj7I99e8QcYP7DkM", "auth": "tBHItJI5svbpez7KI4CCXg"}}


def test_esc_01_installable_app_manifest_and_service_worker(client, db):
    manifest = client.get("/manifest.webmanifest").json()
    assert manifest["start_url"] == "/my-day/" and manifest["display"] == "standalone"
    worker = client.get("/sw.js")
    assert worker["Service-Worker-Allowed"] == "/"
    assert b"showNotification" in worker.content and b"setTimeout" not in worker.content


def test_esc_01_phone_subscribes_to_notifications(trust, as_person, dns):
    dns.answer("push.example.invalid", PUBLIC_IP)
    client = as_person(trust.people["ben"])
    assert client.get("/profile/push-key").json()["public_key"] == push.public_key()
    response = client.post("/profile/push", json.dumps(SUBSCRIPTION),
                           content_type="application/json")
    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert subscription.person == trust.people["ben"]
    assert AuditEvent.objects.filter(action="push.subscribe").exists()
    junk = client.post("/profile/push", "not json", content_type="application/json")
    assert junk.status_code == 400 and "not a push subscription" in junk.json()["detail"]
    plain = client.post("/profile/push", json.dumps(SUBSCRIPTION | {"endpoint": "http://x"}),
                        content_type="application/json")
    assert plain.status_code == 400 and PushSubscription.objects.count() == 1


def test_esc_01_push_sends_to_every_phone_and_forgets_expired_ones(trust, monkeypatch, dns):
    dns.answer("push.invalid", PUBLIC_IP)
    ben = trust.people["ben"]
    for n in (1, 2):
        PushSubscription.objects.create(person=ben, endpoint=f"https://push.invalid/{n}",
                                        p256dh="k", auth="a", created_at="2026-11-22T10:00Z")
    calls = []

    def fake_webpush(subscription_info, data, vapid_private_key, vapid_claims, ttl, timeout,
                     requests_session):
        from pywebpush import WebPushException

        calls.append((subscription_info["endpoint"], json.loads(data), vapid_claims))
        if subscription_info["endpoint"].endswith("/2"):
            raise WebPushException("gone", response=SimpleNamespace(status_code=410))

    monkeypatch.setattr("pywebpush.webpush", fake_webpush)
    queue([ben], ["push"], subject="Nina missed a check-in", body="Call her", link="/x",
          purpose="test", organisation_id=trust.org.pk)
    send_due()
    delivery = Delivery.objects.get()
    assert delivery.status == "sent" and delivery.provider_ref == "push:1"
    assert calls[0][1]["title"] == "Nina missed a check-in" and calls[0][1]["url"] == "/x"
    assert calls[0][2]["sub"].startswith("mailto:")
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        "https://push.invalid/1"]


def test_esc_01_test_message_and_confirmation_prove_each_channel(trust, as_person, settings):
    settings.NOTIFY_API_KEY = ""
    ben = trust.people["ben"]
    ben.email = "ben@trust.example"
    ben.save()
    assert unproved(ben) == ["text messages not confirmed", "email not confirmed",
                             "phone notifications not turned on"]
    client = as_person(ben)
    client.post("/profile/test-message")
    tests = {d.channel: d for d in Delivery.objects.filter(purpose="channel_test")}
    assert set(tests) == {"push", "sms", "email"}
    assert tests["sms"].link.endswith(f"/confirm/{tests['sms'].idempotency_key}")
    send_due()
    response = client.get(f"/confirm/{tests['sms'].idempotency_key}")
    assert response.status_code == 302
    assert ChannelProof.objects.get().address == "+447700900100"
    assert unproved(ben) == ["email not confirmed", "phone notifications not turned on"]
    # A new number must be proved again.
    ben.mobile = "+447700900999"
    ben.save()
    assert "text messages not confirmed" in unproved(ben)
    # Someone else's link proves nothing.
    other = as_person(trust.people["nina"])
    assert other.get(f"/confirm/{tests['email'].idempotency_key}").status_code == 404


@pytest.mark.parametrize("role_holder", ["maria"])
def test_esc_01_board_shows_contacts_whose_alerts_may_not_reach_them(trust, as_person,
                                                                     role_holder):
    page = as_person(trust.people[role_holder]).get("/board/").content.decode()
    assert "Alerts that may not reach people" in page
    assert "Ben</a>: text messages not confirmed" in page


def test_esc_01_notify_delivery_receipts_are_recorded(trust, client, settings, start_session):
    settings.NOTIFY_CALLBACK_TOKEN = "callback-secret-123"
    session = start_session(interval=600)
    rows = queue([trust.people["ben"]], ["sms", "sms"], subject="s", body="b", link="",
                 purpose="test", organisation_id=trust.org.pk, about=("session", session.pk))
    send_due()
    url = "/notify/callback"

    def post(body, token="callback-secret-123"):
        return client.post(url, json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})

    assert post({"reference": str(rows[0].idempotency_key), "status": "delivered"},
                token="wrong").status_code == 401
    assert post({"status": "delivered"}).status_code == 400
    assert post({"reference": "nope", "status": "delivered"}).status_code == 404
    assert post({"reference": str(rows[0].idempotency_key), "status": "delivered"}
                ).status_code == 200
    assert post({"reference": str(rows[1].idempotency_key), "status": "permanent-failure"}
                ).status_code == 200
    first, second = (Delivery.objects.get(pk=r.pk) for r in rows)
    assert first.status == "delivered" and first.delivered_at is not None
    assert second.status == "failed" and "permanent-failure" in second.last_error
    assert session.events.filter(summary__contains="did not reach the phone").exists()


def test_esc_01_webhook_command_adds_lists_and_removes(trust, capsys, dns):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from lonewatch.notify.models import WebhookEndpoint

    dns.answer("hooks.example.invalid", PUBLIC_IP)
    call_command("webhook", "add", "Teams", "https://hooks.example.invalid/abc")
    secret = capsys.readouterr().out.strip()
    hook = WebhookEndpoint.objects.get()
    assert hook.secret == secret and len(secret) >= 40 and hook.active
    call_command("webhook", "list")
    assert "Teams" in capsys.readouterr().out
    call_command("webhook", "remove", str(hook.pk))
    hook.refresh_from_db()
    assert not hook.active
    with pytest.raises(CommandError, match="not an http"):
        call_command("webhook", "add", "Bad", "ftp://x")


def test_esc_01_test_messages_are_not_sent_again_within_minutes(trust, as_person):
    client = as_person(trust.people["ben"])
    client.post("/profile/test-message")
    again = client.post("/profile/test-message", follow=True)
    assert "A test was sent a moment ago" in again.content.decode()
    assert Delivery.objects.filter(purpose="channel_test").count() == 3
