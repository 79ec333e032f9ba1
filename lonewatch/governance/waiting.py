"""What waits for a person in lone-working governance, for their home page (RSK-01,
RSK-04, RSK-06, RSK-07): lists of activities and SOPs for a directorate lead to decide,
those returned to a team manager to change, security provision for an executive to sign
off, out-of-cycle reviews still open, and accepted risks for the security manager to file
under a theme. Each is what the permission engine lets the
person act on, so nothing here can show more than the pages behind the links do."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from lonewatch.core import permissions as perms
from lonewatch.governance.actions import accepted_risks
from lonewatch.governance.models import (
    ReviewRequest,
    SecurityProvision,
    Sop,
    Submission,
    Theme,
)
from lonewatch.governance.permissions import ACTIVITIES, CATALOGUE, PROVISION, SOP

MOST = 20  # of each kind: the page says how many more there are


@dataclass(frozen=True)
class Waiting:
    title: str
    detail: str
    url: str


def _on(moment) -> str:
    return f"{timezone.localtime(moment):%-d %B}" if moment else ""


def waiting_for(user) -> list[Waiting]:
    if getattr(user, "person", None) is None:
        return []
    found: list[Waiting] = []
    to_review = perms.filter_visible(
        user, Submission.objects.filter(state=Submission.State.SUBMITTED), action=perms.ACT,
        kind=ACTIVITIES).select_related("team").order_by("submitted_at")
    found += [Waiting(f"Review {s.team.name}'s lone-working activities",
                      f"Version {s.version}, sent on {_on(s.submitted_at)}",
                      reverse("team_activities", args=[s.team_id])) for s in to_review[:MOST]]
    returned = perms.filter_visible(
        user, Submission.objects.filter(state=Submission.State.RETURNED),
        action=perms.CHANGE, kind=ACTIVITIES).select_related("team").order_by("decided_at")
    found += [Waiting(f"Change {s.team.name}'s lone-working activities",
                      f"Version {s.version} was returned on {_on(s.decided_at)}: "
                      f"{s.comments[:120]}",
                      reverse("team_activities", args=[s.team_id])) for s in returned[:MOST]]
    sops = perms.filter_visible(user, Sop.objects.filter(state=Sop.State.SUBMITTED),
                                action=perms.ACT, kind=SOP).select_related("team")
    found += [Waiting(f"Approve {s.team.name}'s SOP", f"Version {s.version}",
                      reverse("sop", args=[s.pk])) for s in sops.order_by("pk")[:MOST]]
    returned_sops = perms.filter_visible(
        user, Sop.objects.filter(state=Sop.State.DRAFT).exclude(comments=""),
        action=perms.CHANGE, kind=SOP).select_related("team")
    found += [Waiting(f"Change {s.team.name}'s SOP",
                      f"Version {s.version} was returned: {s.comments[:120]}",
                      reverse("sop", args=[s.pk])) for s in returned_sops.order_by("pk")[:MOST]]
    provisions = perms.filter_visible(
        user, SecurityProvision.objects.filter(state=SecurityProvision.State.REQUESTED),
        action=perms.ACT, kind=PROVISION).exclude(requested_by=user).select_related("team")
    found += [Waiting(f"Sign off security provision for {p.team.name}",
                      f"At {p.address}, {p.starts_on:%-d %B} to {p.ends_on:%-d %B}",
                      reverse("provisions")) for p in provisions.order_by("starts_on")[:MOST]]
    reviews = perms.filter_visible(user, ReviewRequest.objects.filter(done_at__isnull=True),
                                   action=perms.CHANGE).select_related("team", "risk")
    found += [Waiting(f"Out-of-cycle review: {_subject(r)}", r.reason[:160],
                      reverse("risk", args=[r.risk_id]) if r.risk_id else
                      reverse("team_sop" if r.subject == r.Subject.SOP else "team_activities",
                              args=[r.team_id]))
              for r in reviews.order_by("requested_at")[:MOST]]
    person = user.person
    if perms.can(user, perms.CHANGE, CATALOGUE, Theme(organisation_id=person.organisation_id)):
        unfiled = sum(r.theme_id is None for r in accepted_risks(person.organisation_id))
        if unfiled:
            found.append(Waiting(
                f"File {unfiled} accepted risk{'s' if unfiled != 1 else ''} under a theme",
                "Teams' accepted risks not yet part of the thematic analysis",
                reverse("themes")))
    return found


def _subject(request: ReviewRequest) -> str:
    if request.risk_id:
        return f"the risk “{request.risk.title}”"
    what = "SOP" if request.subject == request.Subject.SOP else "lone-working activities"
    return f"{request.team.name}'s {what}"
