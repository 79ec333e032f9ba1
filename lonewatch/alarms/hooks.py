"""The hooks of the alarms layer: every effect of an alarm on a higher app.

alarms imports none of the apps above it. These are the points where an alarm causes
something those apps own; each is connected by the owning app in its
``AppConfig.ready()`` (see docs/architecture.md).
"""

from lonewatch.core.hooks import Hook

evidence_changed = Hook("evidence changed", doc="""
Called ``(alarm)`` inside the transaction that raised the alarm, closed it,
re-categorised it, flagged possible duress on it or stored the first chunk of its audio:
what is kept of it, and for how long, may have changed (recordings: REC-01).""")
