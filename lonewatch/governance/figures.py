"""Governance's own columns on the dashboard (RSK-05): whether each team's lone-working
activities are submitted and accepted and their review is in time (RSK-01, RSK-06),
whether it has an SOP, approved and in date (RSK-04), whether its lone workers are named
in its activities, and its reviews overdue on the register (RSK-03, RSK-06).

A yes-or-no of a team is a part of a whole: "1 of 1" for the team, so that a directorate
reads "8 of 10 teams"."""

from django.db.models import Count, Exists, F, OuterRef
from django.utils import timezone

from lonewatch.core import figures
from lonewatch.core.figures import Figure
from lonewatch.governance.models import Activity, Risk, SecurityProvision, Sop, Submission
from lonewatch.org.models import RoleMembership
from lonewatch.org.roles import Role

ACCEPTED = Submission.State.ACCEPTED
TEAM_OF = "team__directorate__organisation_id"


def _yes_or_no(team_ids, yes: set[int]) -> dict[int, Figure]:
    return {team_id: Figure(int(team_id in yes), 1) for team_id in team_ids}


def latest_accepted(organisation_id, team_ids):
    """Each team's latest accepted list of activities: the one in force (RSK-01)."""
    newer = Submission.objects.filter(team_id=OuterRef("team_id"), state=ACCEPTED,
                                      version__gt=OuterRef("version"))
    return Submission.objects.filter(**{TEAM_OF: organisation_id}, team_id__in=team_ids,
                                     state=ACCEPTED).filter(~Exists(newer))


# --- activities (RSK-01, RSK-06) ------------------------------------------------------


def activities_submitted(organisation_id, team_ids, now) -> dict[int, Figure]:
    """The team's latest version, leaving aside a draft being written, is with the
    directorate or accepted (a returned list waits on the team)."""
    sent = Submission.objects.filter(**{TEAM_OF: organisation_id}, team_id__in=team_ids) \
        .exclude(state=Submission.State.DRAFT)
    newer = sent.filter(team_id=OuterRef("team_id"), version__gt=OuterRef("version"))
    latest = sent.filter(~Exists(newer), state__in=(Submission.State.SUBMITTED, ACCEPTED))
    return _yes_or_no(team_ids, set(latest.values_list("team_id", flat=True)))


def activities_accepted(organisation_id, team_ids, now) -> dict[int, Figure]:
    """The team has an accepted list: the latest accepted stands while a newer version
    is written or reviewed."""
    accepted = Submission.objects.filter(**{TEAM_OF: organisation_id}, team_id__in=team_ids,
                                         state=ACCEPTED)
    return _yes_or_no(team_ids, set(accepted.values_list("team_id", flat=True)))


def activities_review_overdue(organisation_id, team_ids, now) -> dict[int, Figure]:
    """Of the teams with an accepted list, those whose list is past its review date."""
    today = timezone.localdate(now)
    return {row["team_id"]: Figure(int(row["review_on"] is not None
                                       and row["review_on"] < today), 1)
            for row in latest_accepted(organisation_id, team_ids).values("team_id",
                                                                         "review_on")}


# --- the SOP (RSK-04) ------------------------------------------------------------------


def _sops(organisation_id, team_ids):
    return Sop.objects.filter(**{TEAM_OF: organisation_id}, team_id__in=team_ids)


def sop_present(organisation_id, team_ids, now) -> dict[int, Figure]:
    written = _sops(organisation_id, team_ids).exclude(state=Sop.State.DRAFT)
    return _yes_or_no(team_ids, set(written.values_list("team_id", flat=True)))


def sop_approved(organisation_id, team_ids, now) -> dict[int, Figure]:
    approved = _sops(organisation_id, team_ids).filter(state=Sop.State.APPROVED)
    return _yes_or_no(team_ids, set(approved.values_list("team_id", flat=True)))


def sop_in_date(organisation_id, team_ids, now) -> dict[int, Figure]:
    in_date = _sops(organisation_id, team_ids).filter(
        state=Sop.State.APPROVED, review_on__gte=timezone.localdate(now))
    return _yes_or_no(team_ids, set(in_date.values_list("team_id", flat=True)))


# --- lone workers named (RSK-01) -------------------------------------------------------


def _lone_workers(organisation_id, team_ids):
    """The teams' members who hold the lone worker role, and of them those named in an
    activity of their own team's latest accepted list: two querysets, by person."""
    # The lists in force first (one a team at most), as ids: the database then joins
    # them, rather than working them out again for every person.
    lists = list(latest_accepted(organisation_id, team_ids).values_list("pk", flat=True))
    members = RoleMembership.objects.filter(role=Role.LONE_WORKER,
                                            person__organisation_id=organisation_id,
                                            person__team_id__in=team_ids)
    named = Activity.people.through.objects.filter(
        activity__submission_id__in=lists, person__team_id=F("activity__submission__team_id"),
        person__roles__role=Role.LONE_WORKER)
    return members, named


def lone_workers_named(organisation_id, team_ids, now) -> dict[int, Figure]:
    members, named = _lone_workers(organisation_id, team_ids)
    by_team = "person__team_id"
    total = members.values(by_team).annotate(n=Count("person_id", distinct=True))
    found = dict(named.values(by_team).annotate(n=Count("person_id", distinct=True))
                 .values_list(by_team, "n"))
    return {row[by_team]: Figure(found.get(row[by_team], 0), row["n"]) for row in total}


def lone_worker_named(organisation_id, team_ids, now) -> dict[int, Figure]:
    members, named = _lone_workers(organisation_id, team_ids)
    found = set(named.values_list("person_id", flat=True))
    return {person_id: Figure(int(person_id in found), 1)
            for person_id in members.values_list("person_id", flat=True)}


# --- reviews overdue on the register (RSK-03, RSK-06) -----------------------------------


def reviews_overdue(organisation_id, team_ids, now) -> dict[int, Figure]:
    """The team's own risks on the register past their review date, and its approved SOP
    if it is past its own."""
    today = timezone.localdate(now)
    found: dict[int, int] = {}
    for rows in (
            Risk.objects.filter(organisation_id=organisation_id, team_id__in=team_ids,
                                review_on__lt=today).values("team_id").annotate(n=Count("pk")),
            _sops(organisation_id, team_ids).filter(state=Sop.State.APPROVED,
                                                    review_on__lt=today)
            .values("team_id").annotate(n=Count("pk"))):
        for row in rows:
            found[row["team_id"]] = found.get(row["team_id"], 0) + row["n"]
    return {team_id: Figure(n) for team_id, n in found.items()}


def provisions_active(organisation_id, team_ids, now) -> dict[int, Figure]:
    """RSK-07: the team's external security provisions in force (signed off, not ended),
    and those still waiting for an executive's sign-off are not counted."""
    rows = SecurityProvision.objects.filter(
        organisation_id=organisation_id, team_id__in=team_ids,
        state=SecurityProvision.State.ACTIVE).values("team_id").annotate(n=Count("pk"))
    return {row["team_id"]: Figure(row["n"]) for row in rows}


COLUMNS = [
    figures.Column(
        key="activities_submitted", label="Activities submitted", owner="governance",
        counts="Teams whose latest list of lone-working activities (a draft being written "
               "aside) is with the directorate or accepted.",
        per_team=activities_submitted, kind=figures.FRACTION, good=figures.HIGHER,
        amber=100, red=80, order=10),
    figures.Column(
        key="activities_accepted", label="Activities accepted", owner="governance",
        counts="Teams with a list of lone-working activities accepted by the directorate.",
        per_team=activities_accepted, kind=figures.FRACTION, good=figures.HIGHER,
        amber=100, red=80, order=20),
    figures.Column(
        key="activities_review_overdue", label="Activities review overdue",
        owner="governance",
        counts="Of the teams with an accepted list, those whose list is past its review "
               "date (RSK-06).",
        per_team=activities_review_overdue, kind=figures.FRACTION, good=figures.LOWER,
        amber=0, red=10, order=30),
    figures.Column(
        key="sop_present", label="SOP present", owner="governance",
        counts="Teams with a lone-working SOP written and sent for approval, or approved.",
        per_team=sop_present, kind=figures.FRACTION, good=figures.HIGHER, amber=100,
        red=80, order=40),
    figures.Column(
        key="sop_approved", label="SOP approved", owner="governance",
        counts="Teams whose SOP is approved by the directorate lead.",
        per_team=sop_approved, kind=figures.FRACTION, good=figures.HIGHER, amber=100,
        red=80, order=50),
    figures.Column(
        key="sop_in_date", label="SOP in date", owner="governance",
        counts="Teams whose approved SOP has not passed its review date.",
        per_team=sop_in_date, kind=figures.FRACTION, good=figures.HIGHER, amber=100,
        red=80, order=60),
    figures.Column(
        key="lone_workers_named", label="Lone workers identified", owner="governance",
        counts="Of the team's members who hold the lone worker role, those named in an "
               "activity of the team's latest accepted list.",
        per_team=lone_workers_named, per_person=lone_worker_named, kind=figures.FRACTION,
        good=figures.HIGHER, amber=100, red=90, order=70),
    figures.Column(
        key="reviews_overdue", label="Risk and SOP reviews overdue", owner="governance",
        counts="The team's own risks on the register, and its approved SOP, past their "
               "review date.",
        per_team=reviews_overdue, kind=figures.COUNT, good=figures.LOWER, amber=0, red=1,
        order=80),
    figures.Column(
        key="security_provisions_active", label="Security provision in force",
        owner="governance",
        counts="External security provisions signed off by an executive and not yet "
               "ended (RSK-07): each is exceptional and short term.",
        per_team=provisions_active, kind=figures.COUNT, good=figures.LOWER, amber=0, red=2,
        order=90),
]

for column in COLUMNS:
    figures.register(column)
