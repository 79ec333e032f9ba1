"""ESC-02 / Q-REL: the delivery queue against real (local) mail and webhook servers.

A real SMTP server (aiosmtpd) and a real HTTP server run in threads on 127.0.0.1;
they refuse, fail or accept on command, and the queue must retry, give up or
deliver accordingly. Time is moved with time-machine between calls only: asyncio
and socket timeouts use the monotonic clock, which time-machine leaves alone.
"""

import email
import ipaddress
import json
import socket
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from lonewatch import clock
from lonewatch.notify import transports
from lonewatch.notify.actions import backoff, queue, send_due
from lonewatch.notify.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = "maria@example.nhs.uk"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a local SMTP server that refuses on command ------------------------------------------


class MailServer:
    """aiosmtpd handler: refuses DATA or RCPT with a given reply, else stores the message."""

    def __init__(self):
        self.refuse_data: str | None = None  # e.g. "421 Service not available, try later"
        self.refuse_rcpt: str | None = None  # e.g. "550 No such user"
        self.data_attempts: list[email.message.Message] = []
        self.messages: list[email.message.Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        self.data_attempts.append(message)
        if self.refuse_data:
            return self.refuse_data
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(settings):
    handler = MailServer()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(),
                            ready_timeout=5)
    controller.start()
    try:
        _use_smtp(settings, controller.port)
        yield handler
    finally:
        controller.stop()


def _use_smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5  # bounded: no test may hang on a silent server


def _queue_email(trust) -> Delivery:
    maria = trust.people["maria"]
    maria.email = ADDRESS
    maria.save()
    [row] = queue([maria], ["email"], subject="Nina missed a check-in",
                  body="Please call Nina now.", link="http://127.0.0.1:8000/sessions/1",
                  purpose="test", organisation_id=trust.org.pk)
    assert row.status == Delivery.Status.PENDING
    return row


# --- SMTP ---------------------------------------------------------------------------------


def test_esc_02_smtp_refuses_for_a_while_then_the_email_is_retried_and_arrives(
        trust, settings, time_machine):
    time_machine.move_to(START, tick=False)
    with smtp_server(settings) as server:
        server.refuse_data = "421 Service not available, try later"
        row = _queue_email(trust)

        # First attempt: refused, kept pending with a 5 s back-off.
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.PENDING
        assert row.attempts == 1
        assert "email not sent" in row.last_error and "421" in row.last_error
        assert row.next_attempt_at == START + backoff(1) == START + timedelta(seconds=5)
        assert row.sent_at is None
        assert len(server.data_attempts) == 1 and server.messages == []

        # Before the back-off runs out nothing is tried.
        time_machine.shift(timedelta(seconds=4))
        assert send_due() == 0
        row.refresh_from_db()
        assert row.attempts == 1
        assert len(server.data_attempts) == 1

        # Second attempt: refused again, a longer back-off.
        time_machine.move_to(row.next_attempt_at + timedelta(seconds=1), tick=False)
        second_at = clock.now()
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.PENDING
        assert row.attempts == 2
        assert "421" in row.last_error
        assert row.next_attempt_at == second_at + backoff(2) == second_at + timedelta(seconds=10)
        assert backoff(2) > backoff(1)
        assert len(server.data_attempts) == 2 and server.messages == []

        # The server recovers: the third attempt goes through.
        server.refuse_data = None
        time_machine.move_to(row.next_attempt_at + timedelta(seconds=1), tick=False)
        sent_at = clock.now()
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.SENT
        assert row.attempts == 3
        assert row.sent_at == sent_at
        assert row.next_attempt_at is None
        assert row.last_error == ""
        assert row.provider_ref == f"email:{row.idempotency_key}"

        # Exactly one message arrived, carrying the idempotency key in its Message-ID;
        # every attempt used the same Message-ID, so a mail system can drop repeats.
        assert len(server.messages) == 1
        message = server.messages[0]
        key = str(row.idempotency_key)
        assert key in message["Message-ID"]
        assert message["X-Lonewatch-Delivery"] == key
        assert message["Subject"] == "Nina missed a check-in"
        assert "Please call Nina now." in message.get_payload()
        assert "http://127.0.0.1:8000/sessions/1" in message.get_payload()
        assert server.envelopes[0][1] == [ADDRESS]
        assert {m["Message-ID"] for m in server.data_attempts} == {message["Message-ID"]}

        # Nothing is left to send, and the sent email is not sent again.
        time_machine.shift(timedelta(hours=2))
        assert send_due() == 0
        assert len(server.messages) == 1


def test_esc_02_smtp_server_not_listening_is_a_temporary_failure_not_a_crash(
        trust, settings, time_machine):
    time_machine.move_to(START, tick=False)
    _use_smtp(settings, _free_port())  # nothing listens on this port
    row = _queue_email(trust)

    assert send_due() == 1
    row.refresh_from_db()
    assert row.status == Delivery.Status.PENDING
    assert row.attempts == 1
    assert row.last_error.startswith("email not sent:")
    assert "internal error" not in row.last_error
    assert row.next_attempt_at == START + backoff(1)

    # It is tried again once the back-off has passed.
    time_machine.shift(backoff(1))
    assert send_due() == 1
    row.refresh_from_db()
    assert row.status == Delivery.Status.PENDING
    assert row.attempts == 2


def test_q_rel_email_gives_up_after_the_maximum_number_of_attempts(
        trust, settings, time_machine):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    time_machine.move_to(START, tick=False)
    with smtp_server(settings) as server:
        server.refuse_data = "421 Service not available, try later"
        row = _queue_email(trust)
        for attempt in range(1, 4):
            assert send_due() == 1
            row.refresh_from_db()
            assert row.attempts == attempt
            if attempt < 3:
                assert row.status == Delivery.Status.PENDING
                time_machine.move_to(row.next_attempt_at, tick=False)
        assert row.status == Delivery.Status.FAILED
        assert row.last_error.startswith("gave up after 3 attempts")
        assert "421" in row.last_error
        assert row.next_attempt_at is None and row.sent_at is None
        assert len(server.data_attempts) == 3 and server.messages == []

        # A failed delivery is never picked up again.
        time_machine.shift(timedelta(days=1))
        server.refuse_data = None
        assert send_due() == 0
        assert server.messages == []


def test_q_rel_email_recipient_refused_for_good_fails_at_once(trust, settings, time_machine):
    time_machine.move_to(START, tick=False)
    with smtp_server(settings) as server:
        server.refuse_rcpt = "550 No such user"
        row = _queue_email(trust)
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.FAILED
        assert row.attempts == 1
        assert "refused" in row.last_error and ADDRESS in row.last_error
        assert "550" in row.last_error
        assert row.next_attempt_at is None and row.sent_at is None
        assert server.data_attempts == []

        time_machine.shift(timedelta(hours=1))
        server.refuse_rcpt = None
        assert send_due() == 0
        assert server.messages == []


def test_q_rel_email_recipient_refused_for_now_is_retried(trust, settings, time_machine):
    time_machine.move_to(START, tick=False)
    with smtp_server(settings) as server:
        server.refuse_rcpt = "450 4.2.0 Mailbox busy, try later"
        row = _queue_email(trust)
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.PENDING
        assert row.attempts == 1
        assert row.next_attempt_at == START + backoff(1)


# --- webhook ------------------------------------------------------------------------------


class HookServer:
    """A ThreadingHTTPServer on 127.0.0.1 that records each POST and answers `status`."""

    def __init__(self):
        self.status = 200
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                recorder.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": self.rfile.read(length)})
                self.send_response(recorder.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)


def allow_local_receiver(settings) -> None:
    """These receivers listen on this machine over plain http: an operator allows that
    (Q-SEC), here as for a test receiver."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"),)


@contextmanager
def hook_server(monkeypatch, settings):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # never via a proxy
    allow_local_receiver(settings)
    server = HookServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)


def _endpoint(trust, server) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(organisation=trust.org, name="Teams",
                                          url=f"http://127.0.0.1:{server.port}/hook",
                                          secret="s3cret")


def _queue_webhook(trust) -> Delivery:
    [row] = queue([trust.people["maria"]], ["webhook"], subject="Nina missed a check-in",
                  body="Please call Nina now.", link="http://127.0.0.1:8000/sessions/1",
                  purpose="test", organisation_id=trust.org.pk)
    return row


def test_esc_02_webhook_posts_signed_json_with_the_idempotency_key(trust, monkeypatch,
                                                                  settings):
    with hook_server(monkeypatch, settings) as server:
        endpoint = _endpoint(trust, server)
        row = _queue_webhook(trust)
        assert row.address == endpoint.url and row.recipient is None

        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.SENT
        assert row.provider_ref == "http:200"
        assert row.sent_at is not None and row.attempts == 1

        [request] = server.requests
        assert request["path"] == "/hook"
        headers, raw = request["headers"], request["body"]
        body = json.loads(raw)
        assert body["subject"] == "Nina missed a check-in"
        assert body["text"] == "Please call Nina now."
        assert body["link"] == "http://127.0.0.1:8000/sessions/1"
        assert body["purpose"] == "test"
        assert body["id"] == str(row.idempotency_key)
        assert headers["Content-Type"] == "application/json"
        assert headers["Idempotency-Key"] == str(row.idempotency_key)
        timestamp = headers["X-Lonewatch-Timestamp"]
        assert headers["X-Lonewatch-Signature"] == transports.sign("s3cret", timestamp, raw)
        assert headers["X-Lonewatch-Signature"] != transports.sign("wrong", timestamp, raw)
        assert abs(int(timestamp) - clock.now().timestamp()) < 60


def test_q_rel_webhook_server_error_is_retried_then_delivered(trust, monkeypatch,
                                                              time_machine, settings):
    time_machine.move_to(START, tick=False)
    with hook_server(monkeypatch, settings) as server:
        _endpoint(trust, server)
        server.status = 500
        row = _queue_webhook(trust)

        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.PENDING
        assert row.attempts == 1
        assert "HTTP 500" in row.last_error
        assert row.next_attempt_at == START + backoff(1)

        server.status = 204
        time_machine.move_to(row.next_attempt_at, tick=False)
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.SENT
        assert row.provider_ref == "http:204"
        # Both attempts carried the same idempotency key, so the receiver can de-duplicate.
        assert [r["headers"]["Idempotency-Key"] for r in server.requests] == \
            [str(row.idempotency_key)] * 2


def test_q_rel_webhook_client_error_fails_at_once(trust, monkeypatch, settings):
    with hook_server(monkeypatch, settings) as server:
        _endpoint(trust, server)
        server.status = 400
        row = _queue_webhook(trust)

        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.FAILED
        assert row.attempts == 1
        assert "HTTP 400" in row.last_error
        assert row.next_attempt_at is None
        assert len(server.requests) == 1


def test_q_rel_webhook_not_listening_is_retried(trust, monkeypatch, settings):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    allow_local_receiver(settings)
    WebhookEndpoint.objects.create(organisation=trust.org, name="Teams",
                                   url=f"http://127.0.0.1:{_free_port()}/hook", secret="s3cret")
    row = _queue_webhook(trust)
    assert send_due() == 1
    row.refresh_from_db()
    assert row.status == Delivery.Status.PENDING
    assert row.attempts == 1
    assert row.last_error.startswith("webhook unreachable")


# --- SMS ----------------------------------------------------------------------------------


def test_esc_02_sms_without_a_notify_key_goes_to_the_console_transport(trust, settings):
    settings.NOTIFY_API_KEY = ""
    maria = trust.people["maria"]
    [row] = queue([maria], ["sms"], subject="Nina missed a check-in",
                  body="Please call Nina now.", link="http://127.0.0.1:8000/sessions/1",
                  purpose="test", organisation_id=trust.org.pk)
    assert row.address == "+447700900100"

    assert send_due() == 1
    row.refresh_from_db()
    assert row.status == Delivery.Status.SENT
    assert row.provider_ref == "console"
    assert row.sent_at is not None and row.attempts == 1 and row.last_error == ""


def test_esc_02_sms_to_a_person_without_a_mobile_is_failed_visibly_at_once(trust, settings):
    settings.NOTIFY_API_KEY = ""
    maria = trust.people["maria"]
    maria.mobile = ""
    maria.save()
    [row] = queue([maria], ["sms"], subject="Nina missed a check-in",
                  body="Please call Nina now.", link="", purpose="test",
                  organisation_id=trust.org.pk)
    assert row.status == Delivery.Status.FAILED
    assert row.last_error == "no mobile number recorded"

    stored = Delivery.objects.get(pk=row.pk)
    assert stored.status == Delivery.Status.FAILED
    assert stored.last_error == "no mobile number recorded"
    assert stored.recipient == maria and stored.next_attempt_at is None
    assert send_due() == 0
    stored.refresh_from_db()
    assert stored.attempts == 0 and stored.status == Delivery.Status.FAILED
