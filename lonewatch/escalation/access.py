"""Fetch an escalation, a team's policy or the trust default for a user, or refuse (see
``core.permissions.fetch_or_refuse``): one check for the API and the pages alike."""

from django.core.exceptions import PermissionDenied

from lonewatch.core.permissions import CHANGE, VIEW, can, fetch_or_refuse
from lonewatch.escalation.models import Escalation
from lonewatch.escalation.permissions import ESCALATION, POLICY
from lonewatch.org.access import access_me, access_team
from lonewatch.org.models import Organisation, Team


def access_escalation(user, escalation_id, *, action: str = VIEW) -> Escalation:
    return fetch_or_refuse(user, Escalation.objects.select_related("session__worker__team"),
                           escalation_id, ESCALATION, action,
                           missing="No such escalation, or not one you can see.",
                           refused="You cannot act on this escalation.")


REFUSED_POLICY = {
    VIEW: "Only the team's managers can see its escalation policy.",
    CHANGE: "Only the team's managers can change its escalation policy.",
}
REFUSED_DEFAULT = {
    VIEW: "Only managers can see the trust default escalation policy.",
    CHANGE: "Only the security manager and administrators can change the trust default "
            "escalation policy.",
}


def access_team_policy(user, team_id, *, action: str = VIEW) -> Team:
    """The team whose escalation policy ``user`` may see (or change): 404 for a team they
    cannot see, 403 for a policy they may not see or change (ESC-01)."""
    team = access_team(user, team_id)
    if not can(user, action, POLICY, team):
        raise PermissionDenied(REFUSED_POLICY[action])
    return team


def access_default_policy(user, *, action: str = VIEW) -> Organisation:
    """The caller's organisation, if they may see (or change) its default policy."""
    organisation = access_me(user).organisation
    if not can(user, action, POLICY, organisation):
        raise PermissionDenied(REFUSED_DEFAULT[action])
    return organisation
