"""Hooks: how a lower layer causes an effect that belongs to a higher one.

A lower app never imports a higher one. Where an event in a lower app must have an
effect that a higher app owns (a duress check-out raises an alarm; a late check-in
resolves an escalation; a delivery's outcome is written on an alarm's timeline), the
lower app declares a ``Hook`` in its ``hooks.py`` and calls it; the higher app
registers its handler in its ``AppConfig.ready()``. Every hook of a layer is listed
in that one ``hooks.py``, so a reader finds them all in one place.

Hooks run synchronously, inside the caller's transaction, in registration order.
An exception in a handler propagates: a duress alarm that could not be raised must
roll the check-out back, not vanish.
"""

from collections.abc import Callable


class HookNotConnected(RuntimeError):
    """A hook that must have a handler was called before any was registered."""


class Hook:
    def __init__(self, name: str, *, required: bool = False, doc: str = ""):
        self.name = name
        self.required = required
        self.__doc__ = doc
        self._handlers: list[Callable] = []

    def connect(self, handler: Callable) -> Callable:
        """Register ``handler``; usable as a decorator. Registering twice is a no-op, so
        a ``ready()`` that runs again (as in some test set-ups) adds nothing."""
        if handler not in self._handlers:
            self._handlers.append(handler)
        return handler

    def __call__(self, *args, **kwargs) -> list:
        if self.required and not self._handlers:
            raise HookNotConnected(f"nothing handles the {self.name!r} hook")
        return [handler(*args, **kwargs) for handler in self._handlers]

    @property
    def handlers(self) -> tuple[Callable, ...]:
        return tuple(self._handlers)

    def __repr__(self):
        return f"<Hook {self.name}: {len(self._handlers)} handler(s)>"


# The hooks of the core layer: what any app may ask of a higher one it cannot import.

review_requested = Hook("review requested", doc="""
Called ``(organisation_id, *, subject, reason, source, team_id=None, risk_id=None)``
when a part of Lonewatch learns that a risk, a team's SOP or its lone-working activities
need an out-of-cycle review (RSK-06: an incident review that exposed a weakness, a
change of policy). ``subject`` is "risk", "sop" or "activities". Governance connects
it: the request is recorded, its owners told, and it is tracked until done.""")
