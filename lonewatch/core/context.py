"""What the current request or worker job is, for logs and the audit trail."""

import contextvars
import uuid
from contextlib import contextmanager

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def job(prefix: str):
    """Give a worker job its own id, so its log lines and audit rows can be followed."""
    token = request_id.set(f"{prefix}-{new_id()[:12]}")
    try:
        yield
    finally:
        request_id.reset(token)
