"""The hooks of the visits layer: every effect of a session on a higher app.

visits imports neither escalation nor alarms. These are the points where a session
causes something those apps own; each is connected by the owning app in its
``AppConfig.ready()`` (see docs/architecture.md).
"""

from lonewatch.core.hooks import Hook

worker_back_in_contact = Hook("worker back in contact", required=True, doc="""
Called ``(session, *, actor)`` inside the transaction of a check-in, a "running late" or
a check-out of an overdue session: whatever was chasing the missed check-in stops
(escalation resolves it as a late check-in).""")

duress_at_checkout = Hook("duress at check-out", required=True, doc="""
Called ``(session, *, actor, checked_out)`` inside the check-out's transaction when the
worker used their duress PIN (MOV-04), before the session is closed, so that what it
raises carries the session's last known location. ``checked_out`` is False when the PIN
lockout refused the check-out. The phone's answer does not change.""")
