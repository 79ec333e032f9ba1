"""What a team's SOP (RSK-04) and the trust's guidance document (RSK-01, RSK-02) say.

A team's Standard Operating Procedure for lone working is filled from the catalogue: the
line manager picks the activity/risk themes that fit the team, which bring their
controls, and writes the team's local arrangements. What the rest of Lonewatch already
holds (the escalation steps and whom they reach, buddies and cover, the emergency
equipment, the check-in intervals) is read live, through ``core.team_facts``, whenever
the SOP is shown or exported, so the SOP cannot contradict the running system. The
directorate lead approves a version; it then stands for a year, until its review.

The trust's guidance document (every theme with its controls) is generated from the same
catalogue: nothing is typed twice. The verbs that write an SOP are in ``actions``.
"""

from collections import Counter, defaultdict

from django.db.models import Prefetch

from lonewatch import clock
from lonewatch.core import team_facts
from lonewatch.governance.actions import accepted_risks, latest_accepted
from lonewatch.governance.models import Control, Sop, Theme
from lonewatch.org.models import Organisation, Team


def name_of(user) -> str:
    if user is None:
        return ""
    person = getattr(user, "person", None)
    return person.full_name if person is not None else user.get_username()


def current(team: Team) -> Sop | None:
    """The version in force: the approved one (approving a version supersedes the last)."""
    return team.sops.filter(state=Sop.State.APPROVED).order_by("-version").first()


def returned_comments(sop: Sop) -> str:
    """The directorate lead's comments, while a version they returned is being changed."""
    return sop.comments if sop.state == Sop.State.DRAFT else ""


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
