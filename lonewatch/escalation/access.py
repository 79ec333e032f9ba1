"""Fetch an escalation for a user, or refuse (see ``core.permissions.fetch_or_refuse``)."""

from lonewatch.core.permissions import VIEW, fetch_or_refuse
from lonewatch.escalation.models import Escalation
from lonewatch.escalation.permissions import ESCALATION


def access_escalation(user, escalation_id, *, action: str = VIEW) -> Escalation:
    return fetch_or_refuse(user, Escalation.objects.select_related("session__worker__team"),
                           escalation_id, ESCALATION, action,
                           missing="No such escalation, or not one you can see.",
                           refused="You cannot act on this escalation.")
