"""Team SOPs (RSK-04) and the trust's guidance document (RSK-01, RSK-02).

A team's Standard Operating Procedure for lone working is filled from the catalogue: the
line manager picks the activity/risk themes that fit the team, which bring their
controls, and writes the team's local arrangements. What the rest of Lonewatch already
holds (the escalation steps and whom they reach, buddies and cover, the emergency
equipment, the check-in intervals) is read live, through ``core.team_facts``, whenever
the SOP is shown or exported, so the SOP cannot contradict the running system. The
directorate lead approves a version; it then stands for a year, until its review.

The trust's guidance document (every theme with its controls) is generated from the same
catalogue: nothing is typed twice.
"""

from collections import Counter, defaultdict

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from lonewatch import clock
from lonewatch.core import audit, team_facts
from lonewatch.core import permissions as perms
from lonewatch.governance.actions import (
    REVIEW_AFTER,
    GovernanceConflict,
    GovernanceError,
    _must,
    _text,
    accepted_risks,
)
from lonewatch.governance.models import Control, Sop, Submission, Theme
from lonewatch.governance.permissions import SOP
from lonewatch.org.models import Organisation, Team

LOCAL_ARRANGEMENTS_LIMIT = 20000
MOST_THEMES = 200
WRITES = "Only the team's line manager writes its SOP."


def name_of(user) -> str:
    if user is None:
        return ""
    person = getattr(user, "person", None)
    return person.full_name if person is not None else user.get_username()


def latest_accepted(team: Team) -> Submission | None:
    """RSK-01: the team's latest accepted list of activities and risks."""
    return team.submissions.filter(state=Submission.State.ACCEPTED).order_by(
        "-version").first()


def suggested_themes(team: Team) -> list[Theme]:
    """The themes the security manager filed the team's accepted risks under: a new SOP
    starts with them chosen."""
    submission = latest_accepted(team)
    if submission is None:
        return []
    return list(Theme.objects.filter(statements__activity__submission=submission)
                .distinct().order_by("title"))


def current(team: Team) -> Sop | None:
    """The version in force: the approved one (approving a version supersedes the last)."""
    return team.sops.filter(state=Sop.State.APPROVED).order_by("-version").first()


def returned_comments(sop: Sop) -> str:
    """The directorate lead's comments, while a version they returned is being changed."""
    return sop.comments if sop.state == Sop.State.DRAFT else ""


# --- the verbs ---------------------------------------------------------------------


def do_start_sop(team: Team, *, actor) -> Sop:
    """RSK-04: a new draft version of the team's SOP, starting from the last version's
    themes and local arrangements (the first starts from the themes of the team's
    accepted risks)."""
    _must(actor, perms.CHANGE, SOP, Sop(team=team, version=0), WRITES)
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()
        latest = team.sops.order_by("-version").first()
        open_version = team.sops.filter(state__in=(Sop.State.DRAFT, Sop.State.SUBMITTED)) \
            .order_by("-version").first()
        if open_version is not None:
            raise GovernanceConflict(
                f"Version {open_version.version} is still a draft: change that one."
                if open_version.state == Sop.State.DRAFT else
                f"Version {open_version.version} is waiting for approval: a new draft can "
                "start once it is decided.")
        sop = Sop.objects.create(
            team=team, version=latest.version + 1 if latest else 1, author=actor,
            created_at=clock.now(),
            local_arrangements=latest.local_arrangements if latest else "")
        themes = list(latest.themes.all()) if latest else suggested_themes(team)
        sop.themes.set(themes)
        audit.record("sop.draft", actor=actor, obj=sop,
                     summary=f"Version {sop.version} of {team.name}'s SOP started",
                     after={"themes": [t.pk for t in themes]})
    return sop


def _draft(sop: Sop, actor) -> Sop:
    """The version, locked, if it is a draft the actor may change. Runs inside the
    caller's transaction."""
    _must(actor, perms.CHANGE, SOP, sop, WRITES)
    locked = Sop.objects.select_for_update(of=("self",)).select_related(
        "team__directorate").get(pk=sop.pk)
    if locked.state != Sop.State.DRAFT:
        raise GovernanceConflict(f"Version {locked.version} is "
                                 f"{locked.get_state_display().lower()}: start a new draft "
                                 "to change the SOP.")
    return locked


def do_edit_sop(sop: Sop, *, actor, themes: list[Theme], local_arrangements: str) -> Sop:
    """RSK-04: the themes the team's SOP covers, and its local arrangements."""
    local = _text(local_arrangements, "local arrangements", limit=LOCAL_ARRANGEMENTS_LIMIT,
                  required=False)
    themes = list({t.pk: t for t in themes}.values())
    if len(themes) > MOST_THEMES:
        raise GovernanceError(f"An SOP covers at most {MOST_THEMES} themes.", "themes")
    with transaction.atomic():
        locked = _draft(sop, actor)
        organisation_id = locked.team.directorate.organisation_id
        if any(t.organisation_id != organisation_id for t in themes):
            raise GovernanceError("An SOP uses its own trust's themes only.", "themes")
        before = {"themes": sorted(locked.themes.values_list("pk", flat=True)),
                  "local_arrangements": len(locked.local_arrangements)}
        locked.local_arrangements = local
        locked.save(update_fields=["local_arrangements"])
        locked.themes.set(themes)
        audit.record("sop.edit", actor=actor, obj=locked,
                     summary=f"{locked.team.name}'s SOP, version {locked.version}, changed",
                     before=before, after={"themes": sorted(t.pk for t in themes),
                                           "local_arrangements": len(local)})
    return locked


def do_submit_sop(sop: Sop, *, actor) -> Sop:
    """RSK-04: the line manager sends the draft to the directorate lead for approval."""
    with transaction.atomic():
        locked = _draft(sop, actor)
        if not locked.themes.exists():
            raise GovernanceError("Choose the activity and risk themes the SOP covers before "
                                  "you submit it.", "themes")
        locked.state = Sop.State.SUBMITTED
        locked.save(update_fields=["state"])
        audit.record("sop.submit", actor=actor, obj=locked,
                     summary=f"{locked.team.name}'s SOP, version {locked.version}, sent for "
                             "approval")
    return locked


def do_approve_sop(sop: Sop, *, actor, approve: bool, comments: str = "") -> Sop:
    """RSK-04: the directorate lead approves the version (it is then the team's SOP until
    its review, a year on, and the version before it is superseded) or returns it with
    comments, as a draft to change."""
    _must(actor, perms.ACT, SOP, sop, "Only the team's directorate lead approves its SOP.")
    comments = _text(comments, "comments", limit=5000, required=not approve)
    with transaction.atomic():
        locked = Sop.objects.select_for_update(of=("self",)).select_related(
            "team").get(pk=sop.pk)
        if locked.state != Sop.State.SUBMITTED:
            raise GovernanceConflict("Only an SOP waiting for approval can be approved or "
                                     "returned.")
        superseded = []
        if approve:
            now = clock.now()
            superseded = list(Sop.objects.select_for_update().filter(
                team_id=locked.team_id, state=Sop.State.APPROVED).values_list("pk", flat=True))
            Sop.objects.filter(pk__in=superseded).update(state=Sop.State.SUPERSEDED)
            locked.state = Sop.State.APPROVED
            locked.approved_by, locked.approved_at = actor, now
            locked.review_on = timezone.localdate(now) + REVIEW_AFTER  # RSK-06
        else:
            locked.state = Sop.State.DRAFT
        locked.comments = comments
        locked.save(update_fields=["state", "approved_by", "approved_at", "review_on",
                                   "comments"])
        audit.record("sop.approve" if approve else "sop.return", actor=actor, obj=locked,
                     summary=f"{locked.team.name}'s SOP, version {locked.version}, "
                             f"{'approved' if approve else 'returned'}",
                     after={"comments": comments, "superseded": superseded})
    return locked


# --- what a document says ------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _control(control: Control) -> dict:
    return {"id": control.pk, "title": control.title,
            "description": _lines(control.description)}


def sop_content(sop: Sop) -> dict:
    """Everything an SOP says, with the live sections read now (RSK-04)."""
    team = Team.objects.select_related("directorate__organisation").get(pk=sop.team_id)
    themes = list(sop.themes.prefetch_related(
        Prefetch("controls", queryset=Control.objects.order_by("title"))).order_by("title"))
    submission = latest_accepted(team)
    activities = list(submission.activities.prefetch_related("risks__theme", "people")) \
        if submission else []
    return {
        "sop": sop, "team": team, "directorate": team.directorate,
        "organisation": team.directorate.organisation,
        "title": f"{team.name}: lone working standard operating procedure",
        "version": sop.version, "state": sop.state, "state_label": sop.get_state_display(),
        "author": name_of(sop.author), "created_at": sop.created_at,
        "approved_by": name_of(sop.approved_by), "approved_at": sop.approved_at,
        "review_on": sop.review_on,
        "themes": [{"id": t.pk, "title": t.title, "description": _lines(t.description),
                    "risk_type": t.get_risk_type_display(),
                    "controls": [_control(c) for c in t.controls.all()]} for t in themes],
        "activities_version": submission.version if submission else None,
        "activities": [{
            "title": a.title, "description": _lines(a.description), "where": a.where,
            "when": a.when, "roles": a.roles,
            "people": sorted(p.full_name for p in a.people.all()),
            "risks": [{"risk_type": r.get_risk_type_display(), "description": r.description,
                       "theme": r.theme.title if r.theme else ""} for r in a.risks.all()],
        } for a in activities],
        "local_arrangements": _lines(sop.local_arrangements),
        "sections": team_facts.sections(team),
        "generated_at": clock.now(),
    }


def guidance_content(organisation: Organisation) -> dict:
    """RSK-01, RSK-02: the trust's lone-working guidance: every activity/risk theme, the
    teams whose accepted risks are filed under it, and its controls; each control is set
    out once, in the catalogue of controls, and the themes refer to it by number."""
    themes = list(Theme.objects.filter(organisation=organisation).prefetch_related(
        Prefetch("controls", queryset=Control.objects.order_by("title"))).order_by("title"))
    controls = list(Control.objects.filter(organisation=organisation).prefetch_related(
        Prefetch("themes", queryset=Theme.objects.order_by("title"))).order_by("title"))
    number = {c.pk: f"C{i}" for i, c in enumerate(controls, 1)}
    statements: dict[int, Counter] = defaultdict(Counter)  # theme -> team id -> count
    unfiled = 0
    for risk in accepted_risks(organisation.pk):
        if risk.theme_id is None:
            unfiled += 1
        else:
            statements[risk.theme_id][risk.activity.submission.team_id] += 1
    # Two directorates may each have a team of the same name.
    teams = {t.pk: f"{t.name} ({t.directorate.name})" for t in Team.objects.filter(
        pk__in={team for counts in statements.values() for team in counts})
        .select_related("directorate")}
    # How many teams' approved SOPs cover each theme.
    covered = Counter(Sop.objects.filter(
        team__directorate__organisation=organisation, state=Sop.State.APPROVED,
        themes__isnull=False).values_list("themes", flat=True))
    return {
        "organisation": organisation,
        "title": f"{organisation.name}: lone working guidance",
        "generated_at": clock.now(),
        "themes": [{
            "id": t.pk, "title": t.title, "description": _lines(t.description),
            "risk_type": t.get_risk_type_display(),
            "teams": sorted(({"team": teams[team], "statements": count}
                             for team, count in statements[t.pk].items()),
                            key=lambda row: row["team"]),
            "statements": sum(statements[t.pk].values()),
            "sops": covered[t.pk],
            "controls": [{"number": number[c.pk], "title": c.title}
                         for c in t.controls.all()],
        } for t in themes],
        "controls": [{"number": number[c.pk], **_control(c),
                      "themes": [t.title for t in c.themes.all()]} for c in controls],
        "unfiled": unfiled,
    }
