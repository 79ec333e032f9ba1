"""Q-SEC: no answer about people is kept by a browser or a proxy. Pages and API answers
carry ``Cache-Control: no-store``; static files keep their long-lived headers; an answer
that says otherwise (an event stream) keeps what it says."""

import pytest
from django.test import Client

from tests.conftest import bearer, login

pytestmark = pytest.mark.django_db


def test_q_sec_pages_and_api_answers_are_not_stored(client, trust, nina_ready):
    nina = nina_ready
    login(client, nina)
    for url in ("/", "/my-day/", "/profile/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    api = Client()
    for url in ("/api/v1/me", "/api/v1/sessions", "/api/v1/alarms"):
        response = api.get(url, headers=bearer(nina))
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    refused = api.get("/api/v1/me")
    assert refused.status_code == 401
    assert "no-store" in refused["Cache-Control"]
    signed_out = Client().get("/login")
    assert "no-store" in signed_out["Cache-Control"]


def test_q_sec_an_answer_that_sets_its_own_cache_header_keeps_it(client, trust, nina_ready):
    login(client, nina_ready)
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=3600"
