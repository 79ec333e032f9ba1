"""Fetch a team's SOPs, one SOP or the trust's guidance for a user, or refuse (see
``core.permissions.fetch_or_refuse``), and the risk register as a user may read it: one
check for the pages and the API alike.

RSK-04: the team's line manager, its directorate lead and the security manager see every
version; everyone in the team reads the approved one, and nothing else."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from lonewatch.core import permissions as perms
from lonewatch.core.permissions import ACT, CHANGE, VIEW, can
from lonewatch.governance.models import Risk, Sop, Theme
from lonewatch.governance.permissions import CATALOGUE, OWN_TEAM_SOP, REGISTER, SOP
from lonewatch.org.access import access_me
from lonewatch.org.models import Organisation, Team

MISSING_SOP = "No such SOP, or not one you can see."
MISSING_TEAM = "No such team, or not one you can see."
REFUSED = {
    VIEW: "Only the team's managers see its SOP's drafts.",
    CHANGE: "Only the team's line manager writes its SOP.",
    ACT: "Only the team's directorate lead approves its SOP.",
}


def in_team(user, team_id: int) -> bool:
    """Is ``user`` a member of the team, with the right to read its approved SOP?"""
    person = getattr(user, "person", None) if user is not None and \
        user.is_authenticated else None
    return person is not None and person.team_id == team_id and \
        can(user, VIEW, OWN_TEAM_SOP, person)


def may_read(user, sop: Sop) -> bool:
    return can(user, VIEW, SOP, sop) or (sop.state == Sop.State.APPROVED
                                         and in_team(user, sop.team_id))


def access_sop(user, sop_id, *, action: str = VIEW) -> Sop:
    """The SOP if ``user`` may read it: 404 alike for "not there" and "not yours", 403 for
    an SOP they read but may not change or approve."""
    sop = Sop.objects.select_related("team__directorate__organisation", "author__person",
                                     "approved_by__person").filter(pk=sop_id).first()
    if sop is None or not may_read(user, sop):
        raise Http404(MISSING_SOP)
    if action != VIEW and not can(user, action, SOP, sop):
        raise PermissionDenied(REFUSED[action])
    return sop


def sees_team_sops(user, team: Team) -> bool:
    """May ``user`` open the team's SOP page (for links to it)?"""
    return can(user, VIEW, SOP, Sop(team=team)) or in_team(user, team.pk)


def access_team_sops(user, team_id, *, action: str = VIEW) -> tuple[Team, bool]:
    """The team whose SOPs ``user`` may see, and whether they see every version (True)
    or the approved one only (False, a member of the team). 404 for a team they cannot
    see, 403 for an ``action`` that is not theirs."""
    team = Team.objects.select_related("directorate__organisation").filter(
        pk=team_id).first()
    if team is None:
        raise Http404(MISSING_TEAM)
    probe = Sop(team=team)
    every = can(user, VIEW, SOP, probe)
    if not every and not in_team(user, team.pk):
        raise Http404(MISSING_TEAM)
    if action != VIEW and not can(user, action, SOP, probe):
        raise PermissionDenied(REFUSED[action])
    return team, every


def versions(team: Team, every: bool):
    """The team's versions the caller sees, newest first."""
    found = team.sops.select_related("author__person", "approved_by__person").order_by(
        "-version")
    return found if every else found.filter(state=Sop.State.APPROVED)


def reads_guidance(user) -> bool:
    person = getattr(user, "person", None) if user is not None and \
        user.is_authenticated else None
    return person is not None and can(user, VIEW, CATALOGUE,
                                      Theme(organisation_id=person.organisation_id))


def access_guidance(user) -> Organisation:
    """The caller's trust, if they read its catalogue: the guidance is the catalogue set
    out (the security manager, directorate leads, line managers)."""
    me = access_me(user)
    if not reads_guidance(user):
        raise PermissionDenied("Only managers and the security manager read the trust's "
                               "lone-working guidance.")
    return me.organisation


def visible_risks(user):
    """RSK-03: the register as ``user`` may read it: the risks their scope reaches, and the
    organisation's own risks for anyone who may read the register at all."""
    me = access_me(user)
    reached = perms.filter_visible(user, Risk.objects.all())
    if perms.can_anywhere(user, perms.VIEW, REGISTER):
        reached = Risk.objects.filter(Q(pk__in=reached.values("pk")) | Q(
            level=Risk.Level.ORGANISATION), organisation_id=me.organisation_id)
    return reached
