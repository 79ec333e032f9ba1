"""The installable web app (manifest, service worker) and phone notifications."""

import hmac
import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from lonewatch import clock
from lonewatch.core import audit
from lonewatch.notify import actions, destinations, push
from lonewatch.notify import messages as texts
from lonewatch.notify.hooks import Outcome, delivery_outcomes
from lonewatch.notify.models import Channel, ChannelProof, Delivery, PushSubscription
from lonewatch.org.access import access_me

TEST_INTERVAL = timedelta(minutes=5)


@login_not_required
@cache_control(max_age=3600)
def manifest(request):
    icon = "vendor/nhsuk/assets/images/nhsuk-icon-{}.png"
    return JsonResponse({
        "name": "Lonewatch",
        "short_name": "Lonewatch",
        "description": "Check in while you work alone, and get help when you need it.",
        "start_url": reverse("my_day"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f0f4f5",
        "theme_color": "#005eb8",
        "icons": [{"src": static(icon.format(size)), "sizes": f"{size}x{size}",
                   "type": "image/png"} for size in (192, 512)],
    }, content_type="application/manifest+json")


SERVICE_WORKER = """
// Lonewatch service worker: shows the server's push messages, opens their link.
// It keeps no timers: every deadline lives on the server.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("push", (event) => {
  let message = {title: "Lonewatch", body: "", url: "/"};
  try { message = Object.assign(message, event.data.json()); } catch (e) {}
  event.waitUntil(self.registration.showNotification(message.title, {
    body: message.body, tag: message.tag, data: {url: message.url},
    requireInteraction: true, icon: "%(icon)s",
  }));
});
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url || "/"));
});
"""


@login_not_required
def service_worker(request):
    response = HttpResponse(
        SERVICE_WORKER % {"icon": static("vendor/nhsuk/assets/images/nhsuk-icon-192.png")},
        content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


def push_key(request):
    return JsonResponse({"public_key": push.public_key()})


@require_POST
def push_subscribe(request):
    """Store this phone's push subscription (sent by the profile page's script)."""
    person = access_me(request.user)
    try:
        data = json.loads(request.body)
        endpoint = str(data["endpoint"])
        keys = data["keys"]
        p256dh, auth = str(keys["p256dh"]), str(keys["auth"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": "That is not a push subscription."}, status=400)
    if len(endpoint) > 1000:
        return JsonResponse({"detail": "A push address must be at most 1000 characters."},
                            status=400)
    try:
        # Q-SEC: the worker will call this address; it must be a push service on the
        # public internet, not this machine or the trust's network.
        destinations.check_push_endpoint(endpoint)
    except destinations.RefusedDestination as error:
        return JsonResponse({"detail": f"Notifications were not turned on. {error}"},
                            status=400)
    with transaction.atomic():
        PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={"person": person, "p256dh": p256dh[:200], "auth": auth[:100],
                      "user_agent": request.headers.get("User-Agent", "")[:300],
                      "created_at": clock.now()})
        audit.record("push.subscribe", actor=request.user, obj=person,
                     summary=f"{person.full_name} turned on phone notifications")
    return JsonResponse({"detail": "Notifications are on for this phone."}, status=201)


@require_POST
def test_message(request):
    """Send yourself a test on every channel, so you know alerts will reach you."""
    person = access_me(request.user)
    recent = Delivery.objects.filter(recipient=person, purpose="channel_test",
                                     created_at__gt=clock.now() - TEST_INTERVAL).first()
    if recent is not None:
        messages.error(request, "A test was sent a moment ago. Check your phone and email, "
                                "or try again in a few minutes.")
        return redirect(reverse("profile") + "#alerts")
    subject, body = texts.channel_test(person)
    outbox = actions.Outbox()
    rows = outbox.add([person], [Channel.PUSH, Channel.SMS, Channel.EMAIL], subject=subject,
                      body=body, link="", purpose="channel_test",
                      organisation_id=person.organisation_id)
    for row in rows:
        # Each test carries its own confirmation link, so a click proves that channel.
        row["link"] = texts.link("channel_confirm", row["idempotency_key"])
    with transaction.atomic():
        outbox.save()
    messages.success(request, "Test messages are on their way. Check your phone and email, "
                              "then confirm each one.")
    return redirect(reverse("profile") + "#alerts")


def confirm(request, key):
    """The person followed the link in a test message: that channel reaches them."""
    person = access_me(request.user)
    delivery = Delivery.objects.filter(idempotency_key=key, recipient=person,
                                       purpose="channel_test").first()
    if delivery is None:
        raise Http404("This confirmation link is not one of your test messages.")
    with transaction.atomic():
        ChannelProof.objects.update_or_create(
            person=person, channel=delivery.channel, address=delivery.address,
            defaults={"confirmed_at": clock.now()})
        audit.record("channel.confirm", actor=request.user, obj=person,
                     summary=f"{person.full_name} confirmed {delivery.get_channel_display()} "
                             f"to {delivery.address or 'their phone'}")
    plain = {Channel.SMS: "text messages", Channel.EMAIL: "emails",
             Channel.PUSH: "phone notifications"}.get(delivery.channel, "messages")
    messages.success(request, f"Thank you: {plain} reach you.")
    return redirect(reverse("profile") + "#alerts")


def unproved(person) -> list[str]:
    """Channels an alert to this person would use that they have not confirmed."""
    proofs = {(p.channel, p.address) for p in person.channel_proofs.all()}
    gaps = []
    if not person.mobile:
        gaps.append("no mobile number")
    elif (Channel.SMS, person.mobile) not in proofs:
        gaps.append("text messages not confirmed")
    if person.email and (Channel.EMAIL, person.email) not in proofs:
        gaps.append("email not confirmed")
    if not person.push_subscriptions.exists():
        gaps.append("phone notifications not turned on")
    elif (Channel.PUSH, "") not in proofs:
        gaps.append("phone notifications not confirmed")
    return gaps


# GOV.UK Notify's delivery receipts, by status.
NOTIFY_DELIVERED = {"delivered"}
NOTIFY_FAILED = {"permanent-failure", "temporary-failure", "technical-failure"}


@login_not_required
@csrf_exempt
@require_POST
def notify_callback(request):
    """GOV.UK Notify's delivery-status callback: whether a text reached the phone."""
    expected = settings.NOTIFY_CALLBACK_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(given, expected):
        return JsonResponse({"detail": "Unknown caller."}, status=401)
    try:
        receipt = json.loads(request.body)
        reference, status = str(receipt["reference"]), str(receipt["status"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": "Expected Notify's JSON with reference and status."},
                            status=400)
    delivery = Delivery.objects.filter(idempotency_key=_uuid_or_none(reference),
                                       channel=Channel.SMS).first()
    if delivery is None:
        return JsonResponse({"detail": "No message with that reference."}, status=404)
    now = clock.now()
    if delivery.status in (Delivery.Status.DELIVERED, Delivery.Status.FAILED):
        return JsonResponse({"detail": "already recorded"}, status=200)  # receipts are final
    with transaction.atomic():
        if status in NOTIFY_DELIVERED:
            Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.DELIVERED,
                                                           delivered_at=now)
            summary = f"Text message to {delivery.recipient} reached the phone"
            failed = False
        elif status in NOTIFY_FAILED:
            Delivery.objects.filter(pk=delivery.pk).update(
                status=Delivery.Status.FAILED, last_error=f"GOV.UK Notify: {status}")
            summary = f"Text message to {delivery.recipient} did not reach the phone ({status})"
            failed = True
        else:
            return JsonResponse({"detail": "noted"}, status=200)
        if delivery.about_id is not None:
            delivery_outcomes([Outcome(delivery.about_kind, delivery.about_id, now, failed,
                                       summary[:300], delivery.recipient_id,
                                       {"delivery": delivery.pk})], bulk=False)
    return JsonResponse({"detail": "recorded"}, status=200)


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
