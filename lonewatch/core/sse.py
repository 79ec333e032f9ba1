"""Server-sent event responses: one place for the headers every stream needs."""

import random

from django.http import StreamingHttpResponse


def event_stream(events) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy must pass each event on at once
    return response


def closing() -> str:
    """The last words of a stream whose server process is stopping (Q-REL).

    The browser's EventSource reconnects on its own, sending the last event id it had;
    the ``retry`` hint makes that soon, when another process has taken over. Each
    stream waits its own while, up to a second, so the consoles and boards of one
    process do not all come back in the same instant. The next stream sets its usual
    reconnection time again in its first line."""
    return f"retry: {random.randint(100, 1000)}\n: this server is stopping\n\n"
