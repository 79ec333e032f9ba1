"""Q-SEC: the addresses Lonewatch itself calls (push services, webhooks) must be on the
public internet, when they are saved and again when a message goes to them.

Without this, anyone who can sign in could save a push endpoint or a webhook that
leads to this machine or the trust's network, and the worker would call it every few
seconds. Names resolve through a fake resolver (the ``dns`` fixture); receivers listen
on 127.0.0.1, over TLS with a certificate made here for their name.
"""

import ipaddress
import json
import ssl
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import call_command
from django.core.management.base import CommandError

from lonewatch.core.models import AuditEvent
from lonewatch.env import ConfigError, env_networks
from lonewatch.notify import destinations
from lonewatch.notify.actions import queue, send_due
from lonewatch.notify.models import Delivery, PushSubscription, WebhookEndpoint
from tests.conftest import PUBLIC_IP

pytestmark = pytest.mark.django_db

ARC = "arc.example.test"
KEYS = {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-"
                  "Ts1XbjhazAkj7I99e8QcYP7DkM", "auth": "tBHItJI5svbpez7KI4CCXg"}

# Each: a URL, what the fake resolver answers for its name (if it is a name), and a
# word the refusal must use.
INSIDE = [
    ("https://127.0.0.1/push", None, "loopback"),
    ("https://127.0.0.1:8443/push", None, "loopback"),
    ("https://[::1]/push", None, "loopback"),
    ("https://[::ffff:127.0.0.1]/push", None, "loopback"),
    ("https://[::ffff:10.0.0.8]/push", None, "private"),
    ("https://0.0.0.0/push", None, "unspecified"),
    ("https://[::]/push", None, "unspecified"),
    ("https://localhost/push", None, "loopback"),
    ("https://phone.localhost/push", None, "loopback"),
    ("https://10.1.2.3/push", None, "private"),
    ("https://172.16.5.4/push", None, "private"),
    ("https://192.168.1.1/push", None, "private"),
    ("https://169.254.169.254/latest/meta-data", None, "link-local"),
    ("https://[fe80::1]/push", None, "link-local"),
    ("https://[fd12:3456::1]/push", None, "private"),
    ("https://100.64.0.1/push", None, "shared"),
    ("https://224.0.0.1/push", None, "multicast"),
    ("https://[ff02::1]/push", None, "multicast"),
    ("https://240.0.0.1/push", None, "reserved"),
    ("https://[2002:7f00:1::]/push", None, "loopback"),
    ("https://[64:ff9b::a00:1]/push", None, "private"),
    ("https://2130706433/push", None, "loopback"),
    ("https://push.example.test/push", ("127.0.0.1",), "loopback"),
    ("https://push.example.test/push", ("::1",), "loopback"),
    ("https://push.example.test/push", ("10.9.8.7",), "private"),
    ("https://push.example.test/push", (PUBLIC_IP, "192.168.0.10"), "private"),
    ("https://push.example.test/push", (PUBLIC_IP, "::ffff:127.0.0.1"), "loopback"),
]


def _resolve(dns, url, answer):
    if answer is not None:
        dns.answer(urlsplit(url).hostname, *answer)


# --- when saved ---------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "answer", "word"), INSIDE)
def test_q_sec_push_subscription_that_leads_inside_is_refused_and_nothing_saved(
        trust, as_person, dns, endpoint, answer, word):
    _resolve(dns, endpoint, answer)
    client = as_person(trust.people["ben"])
    response = client.post("/profile/push", json.dumps({"endpoint": endpoint, "keys": KEYS}),
                           content_type="application/json")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "Notifications were not turned on" in detail and "public internet" in detail
    assert word in detail
    assert not PushSubscription.objects.exists()
    assert not AuditEvent.objects.filter(action="push.subscribe").exists()


def test_q_sec_push_subscription_must_be_https_and_resolvable(trust, as_person, dns):
    client = as_person(trust.people["ben"])

    def subscribe(endpoint):
        return client.post("/profile/push", json.dumps({"endpoint": endpoint, "keys": KEYS}),
                           content_type="application/json")

    dns.answer("nowhere.example.test")
    unknown = subscribe("https://nowhere.example.test/push")
    assert unknown.status_code == 400 and "could not be looked up" in unknown.json()["detail"]
    plain = subscribe(f"http://{PUBLIC_IP}/push")
    assert plain.status_code == 400 and "must start with https://" in plain.json()["detail"]
    assert not PushSubscription.objects.exists()
    dns.answer("push.example.test", PUBLIC_IP, "2a00:1450:4009:81f::200a")
    assert subscribe("https://push.example.test/wpush/v2/abc").status_code == 201
    assert PushSubscription.objects.get().endpoint == "https://push.example.test/wpush/v2/abc"


@pytest.mark.parametrize(("url", "answer", "word"),
                         [case for case in INSIDE if "2130706433" not in case[0]])
def test_q_sec_webhook_that_leads_inside_is_refused_and_nothing_saved(trust, dns, url,
                                                                      answer, word):
    _resolve(dns, url, answer)
    with pytest.raises(CommandError, match="Webhook not added") as refused:
        call_command("webhook", "add", "ARC", url)
    assert "public internet" in str(refused.value) and word in str(refused.value)
    assert "LONEWATCH_WEBHOOK_ALLOWED_NETWORKS" in str(refused.value)
    assert not WebhookEndpoint.objects.exists()


def test_q_sec_webhook_is_https_unless_plain_http_is_allowed_for_testing(trust, dns,
                                                                         settings):
    dns.answer(ARC, PUBLIC_IP)
    with pytest.raises(CommandError, match="must start with https://"):
        call_command("webhook", "add", "ARC", f"http://{ARC}/in")
    assert not WebhookEndpoint.objects.exists()
    settings.WEBHOOK_ALLOW_HTTP = True
    call_command("webhook", "add", "ARC", f"http://{ARC}/in")
    assert WebhookEndpoint.objects.get().url == f"http://{ARC}/in"


def test_q_sec_internal_receiver_only_in_a_network_the_operator_allowed(trust, dns, settings):
    dns.answer(ARC, "10.20.0.5")
    with pytest.raises(CommandError, match="10.20.0.5, a private network address"):
        call_command("webhook", "add", "ARC", f"https://{ARC}/in")
    settings.WEBHOOK_ALLOWED_NETWORKS = (ipaddress.ip_network("10.20.0.0/24"),)
    call_command("webhook", "add", "ARC", f"https://{ARC}/in")
    assert WebhookEndpoint.objects.get().url == f"https://{ARC}/in"
    # The allowance is for that network only, and never for phones' push addresses.
    with pytest.raises(CommandError, match="10.20.1.5"):
        call_command("webhook", "add", "Other", "https://10.20.1.5/in")
    with pytest.raises(destinations.RefusedDestination, match="private"):
        destinations.check_push_endpoint(f"https://{ARC}/push")


def test_q_sec_allowed_networks_setting_is_read_strictly():
    environ = {"NETS": "10.20.0.0/16, 2001:db8:5::/48,192.0.2.7"}
    assert env_networks("NETS", environ=environ) == (
        ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("2001:db8:5::/48"),
        ipaddress.ip_network("192.0.2.7/32"))
    assert env_networks("NETS", environ={}) == ()
    for nonsense, message in [("intranet", "must list networks"),
                              ("10.20.0.5/16", "no address bits after the prefix"),
                              ("0.0.0.0/0", "must not allow every address"),
                              ("::/0", "must not allow every address")]:
        with pytest.raises(ConfigError, match=message):
            env_networks("NETS", environ={"NETS": nonsense})


@pytest.mark.parametrize(("address", "public"), [
    ("81.2.69.160", True), ("2a00:1450:4009:81f::200a", True), ("::ffff:81.2.69.160", True),
    ("2002:5102:45a0::1", True), ("64:ff9b::5102:45a0", True),
    ("127.0.0.1", False), ("127.255.255.254", False), ("0.0.0.0", False),  # noqa: S104
    ("0.1.2.3", False), ("10.0.0.1", False), ("172.31.255.255", False),
    ("192.168.10.1", False),
    ("100.100.100.100", False), ("169.254.169.254", False), ("192.0.0.8", False),
    ("192.0.2.1", False), ("198.18.0.1", False), ("224.0.0.251", False),
    ("239.255.255.250", False), ("255.255.255.255", False), ("::", False), ("::1", False),
    ("::127.0.0.1", False), ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False),
    ("64:ff9b::7f00:1", False), ("64:ff9b:1::1", False), ("2002:a00:1::1", False),
    ("100::1", False), ("2001:db8::1", False), ("2001::1", False), ("fc00::1", False),
    ("fe80::1", False), ("fec0::1", False), ("ff0e::1", False),
])
def test_q_sec_only_public_internet_addresses_count_as_public(address, public):
    assert (destinations.why_not_public(ipaddress.ip_address(address)) is None) is public


# --- when sent ----------------------------------------------------------------------------


def _certificate(folder, name: str) -> tuple[str, str, str]:
    """A certificate authority, and a server certificate for ``name`` it signed."""
    def build(subject, issuer, key, signer, *extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
                   .not_valid_after(datetime(2100, 1, 1, tzinfo=UTC)))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test alarm centre CA")])
    ca = build(ca_name, ca_name, ca_key, ca_key,
               (x509.BasicConstraints(ca=True, path_length=None), True),
               (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False), True),
               (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False))
    leaf = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), ca_name, key,
                 ca_key, (x509.SubjectAlternativeName([x509.DNSName(name)]), False),
                 (x509.BasicConstraints(ca=False, path_length=None), True),
                 (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
                 (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                  False))
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return tuple(str(p) for p in paths)


class Receiver:
    """A receiver on 127.0.0.1 that records each request (and the TLS server name asked
    for) and answers ``status`` with ``headers``."""

    def __init__(self, tls: tuple[str, str] | None = None):
        self.status, self.headers = 200, {}
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers),
                                          "body": self.rfile.read(length)})
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _answer

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)


@contextmanager
def receiver(tmp_path, monkeypatch, *, tls: bool = True):
    monkeypatch.setenv("NO_PROXY", f"{ARC},127.0.0.1,localhost")
    server = Receiver(tls=None)
    if tls:
        ca, certificate, key = _certificate(tmp_path, ARC)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)  # trusted like a trust's own CA
        server = Receiver(tls=(certificate, key))
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)


def _queue_webhook(trust) -> Delivery:
    [row] = queue([], ["webhook"], subject="RED ALERT from Nina", body="Act now.", link="",
                  purpose="test", organisation_id=trust.org.pk)
    return row


def test_q_sec_webhook_whose_name_turns_to_loopback_after_saving_is_not_called(
        trust, dns, tmp_path, monkeypatch, time_machine):
    """The name was public when the webhook was saved; by the time a message goes, it
    answers 127.0.0.1, where a service of this machine listens. Nothing reaches it."""
    time_machine.move_to(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tick=False)
    with receiver(tmp_path, monkeypatch) as inside:
        url = f"https://{ARC}:{inside.port}/in"
        dns.answer(ARC, PUBLIC_IP)
        call_command("webhook", "add", "ARC", url)
        dns.answer(ARC, "127.0.0.1")
        row = _queue_webhook(trust)

        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.FAILED and row.attempts == 1
        assert "127.0.0.1, a loopback address" in row.last_error
        assert inside.requests == [] and inside.server_names == []

        # Failed for good: the worker does not come back to it every few seconds.
        time_machine.shift(timedelta(hours=1))
        assert send_due() == 0
        assert inside.requests == []


def test_q_sec_allowed_receiver_is_called_at_the_address_checked_with_its_own_name(
        trust, dns, tmp_path, monkeypatch, settings):
    """An operator allows an internal receiver's network. The name is looked up once
    per message, and the connection goes to the address that was checked, while the
    Host header, the TLS server name and the certificate are those of the name."""
    with receiver(tmp_path, monkeypatch) as arc:
        url = f"https://{ARC}:{arc.port}/in"
        dns.answer(ARC, "127.0.0.1")
        with pytest.raises(CommandError, match="loopback"):
            call_command("webhook", "add", "ARC", url)
        settings.WEBHOOK_ALLOWED_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"),)
        call_command("webhook", "add", "ARC", url)

        # Asked again, the name would lead elsewhere (where nothing listens).
        dns.answer(ARC, "127.0.0.1", then="127.0.0.2")
        row = _queue_webhook(trust)
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.SENT and row.provider_ref == "http:200"
        assert dns.lookups[ARC] == 1
        [request] = arc.requests
        assert request["headers"]["Host"] == f"{ARC}:{arc.port}"
        assert request["path"] == "/in"
        assert arc.server_names == [ARC]
        assert json.loads(request["body"])["id"] == str(row.idempotency_key)


def test_q_sec_webhook_redirect_is_not_followed(trust, dns, tmp_path, monkeypatch, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"),)
    with receiver(tmp_path, monkeypatch) as arc:
        dns.answer(ARC, "127.0.0.1")
        WebhookEndpoint.objects.create(organisation=trust.org, name="ARC",
                                       url=f"https://{ARC}:{arc.port}/in", secret="s3cret")
        arc.status, arc.headers = 307, {"Location": "https://169.254.169.254/latest/"}
        row = _queue_webhook(trust)
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.FAILED
        assert "HTTP 307, a redirect" in row.last_error
        assert "does not follow redirects" in row.last_error
        assert [r["path"] for r in arc.requests] == ["/in"]


def test_q_sec_plain_http_webhook_is_not_called_unless_allowed_for_testing(
        trust, dns, tmp_path, monkeypatch, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"),)
    with receiver(tmp_path, monkeypatch, tls=False) as test_receiver:
        WebhookEndpoint.objects.create(organisation=trust.org, name="Test receiver",
                                       url=f"http://127.0.0.1:{test_receiver.port}/in",
                                       secret="s3cret")
        row = _queue_webhook(trust)
        assert send_due() == 1
        row.refresh_from_db()
        assert row.status == Delivery.Status.FAILED
        assert "must start with https://" in row.last_error
        assert test_receiver.requests == []


# --- push at send time --------------------------------------------------------------------


def _phones(person, *names: str) -> list[PushSubscription]:
    return [PushSubscription.objects.create(
        person=person, endpoint=f"https://{name}/wpush/{n}", p256dh=KEYS["p256dh"],
        auth=KEYS["auth"], created_at="2026-11-22T10:00Z") for n, name in enumerate(names)]


def _queue_push(trust, person) -> Delivery:
    [row] = queue([person], ["push"], subject="Nina missed a check-in", body="Call her",
                  link="/x", purpose="test", organisation_id=trust.org.pk)
    return row


def test_q_sec_push_to_a_phone_whose_address_now_leads_inside_is_not_sent(
        trust, dns, monkeypatch):
    ben = trust.people["ben"]
    dns.answer("push.example.test", PUBLIC_IP)
    _phones(ben, "push.example.test")
    dns.answer("push.example.test", "127.0.0.1")
    calls = []
    monkeypatch.setattr("pywebpush.webpush", lambda **kwargs: calls.append(kwargs))
    row = _queue_push(trust, ben)
    assert send_due() == 1
    row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED
    assert "127.0.0.1, a loopback address" in row.last_error
    assert calls == []


def test_q_sec_push_goes_through_a_session_that_reaches_only_the_checked_address(
        trust, dns, monkeypatch):
    ben = trust.people["ben"]
    dns.answer("push.example.test", PUBLIC_IP)
    [phone] = _phones(ben, "push.example.test")
    seen = []

    def fake_webpush(*, subscription_info, requests_session, **kwargs):
        adapter = requests_session.get_adapter(subscription_info["endpoint"])
        seen.append(adapter.destination)
        # Anywhere else (a redirect's target, say) cannot be reached through it.
        with pytest.raises(requests.exceptions.InvalidURL, match="was checked"):
            requests_session.post("https://169.254.169.254/latest/", timeout=1)

    monkeypatch.setattr("pywebpush.webpush", fake_webpush)
    row = _queue_push(trust, ben)
    send_due()
    row.refresh_from_db()
    assert row.status == Delivery.Status.SENT
    assert [(d.url, d.address) for d in seen] == [(phone.endpoint, PUBLIC_IP)]


# --- one dead phone does not stop the others ------------------------------------------------


def _answer(outcome):
    """What a phone's push service does: "ok", an HTTP status, or "unreachable"."""
    from pywebpush import WebPushException

    if outcome == "ok":
        return None
    if outcome == "unreachable":
        raise requests.ConnectionError("connection refused")
    raise WebPushException(f"Push failed: {outcome}",
                           response=SimpleNamespace(status_code=outcome, text=""))


@pytest.mark.parametrize(("outcomes", "status", "kept"), [
    # One phone's push service cannot be reached: the other still gets it, once.
    (["unreachable", "ok"], "sent", [0, 1]),
    (["ok", "unreachable"], "sent", [0, 1]),
    # Nobody got it, but a failure may pass: tried again.
    (["unreachable", 500], "pending", [0, 1]),
    ([403, "unreachable"], "pending", [0, 1]),
    # Nobody got it and none can: failed for good, expired phones forgotten.
    ([410, 403], "failed", [1]),
    ([400, 301], "failed", [0, 1]),
])
def test_q_rel_one_dead_phone_does_not_keep_the_message_from_the_others(
        trust, dns, monkeypatch, outcomes, status, kept):
    ben = trust.people["ben"]
    dns.answer("push.example.test", PUBLIC_IP)
    phones = _phones(ben, *["push.example.test"] * len(outcomes))
    by_endpoint = {phone.endpoint: outcome for phone, outcome in zip(phones, outcomes,
                                                                     strict=True)}
    tried = []

    def fake_webpush(*, subscription_info, **kwargs):
        tried.append(subscription_info["endpoint"])
        _answer(by_endpoint[subscription_info["endpoint"]])

    monkeypatch.setattr("pywebpush.webpush", fake_webpush)
    row = _queue_push(trust, ben)
    assert send_due() == 1
    row.refresh_from_db()
    assert tried == [phone.endpoint for phone in phones]  # every phone was tried
    assert row.status == status
    if status == "sent":
        assert row.provider_ref == f"push:{outcomes.count('ok')}"
    else:
        assert row.last_error
    assert "internal error" not in row.last_error
    assert list(PushSubscription.objects.order_by("pk").values_list("endpoint", flat=True)) \
        == [phones[i].endpoint for i in kept]
