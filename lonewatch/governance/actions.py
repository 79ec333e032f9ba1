"""Lone-working governance, the verbs (RSK-01 … RSK-07). Each owns its transaction and
writes its audit event; who may is asked of the permission engine first."""

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from lonewatch import clock
from lonewatch.core import audit, figures
from lonewatch.core import permissions as perms
from lonewatch.governance import assurance, scoring
from lonewatch.governance.models import (
    Activity,
    ActivityRisk,
    AssuranceReport,
    Control,
    ReviewRequest,
    Risk,
    RiskAction,
    RiskType,
    ScoreChange,
    SecurityProvision,
    Sop,
    Submission,
    Theme,
    Threshold,
)
from lonewatch.governance.permissions import (
    ACTIVITIES,
    ASSURANCE,
    CATALOGUE,
    DASHBOARD,
    PROVISION,
    REGISTER,
    SOP,
)
from lonewatch.notify import actions as notify
from lonewatch.notify.messages import link
from lonewatch.notify.models import Channel
from lonewatch.org.models import Organisation, Person, Team
from lonewatch.org.roles import Role, Scope
from lonewatch.worker.claim import claim

# RSK-06: how long an accepted activity list or a risk stands before its review.
REVIEW_AFTER = timedelta(days=365)
SCORES = ("initial", "current", "target")
LOCAL_ARRANGEMENTS_LIMIT = 20000
MOST_THEMES = 200
SOP_WRITES = "Only the team's line manager writes its SOP."


class GovernanceError(ValueError):
    """Bad input, shown to the person as it is; ``field`` says where, for a form."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class GovernanceConflict(GovernanceError):
    """The record's state does not allow it (HTTP 409)."""


def _must(user, action: str, kind: str, obj, refused: str) -> None:
    if not perms.can(user, action, kind, obj):
        raise PermissionDenied(refused)


def _text(value: str, name: str, *, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise GovernanceError(f"Give the {name}.", name)
    if len(value) > limit:
        raise GovernanceError(f"The {name} can be at most {limit:,} characters.", name)
    return value


# --- who is told -----------------------------------------------------------------------


def _team_managers(team: Team) -> list[Person]:
    return list(Person.objects.filter(
        roles__role=Role.LINE_MANAGER, roles__team=team, user__is_active=True).distinct())


def _directorate_leads(team: Team) -> list[Person]:
    """Who reviews the team's activities and approves its SOP: its directorate's leads."""
    return list(Person.objects.filter(
        roles__role=Role.DIRECTORATE_LEAD, roles__scope=Scope.DIRECTORATE,
        roles__directorate_id=team.directorate_id, user__is_active=True).distinct())


def _tell(people: list[Person], *, subject: str, body: str, url: str, purpose: str,
          organisation_id: int, about: tuple[str, int]) -> None:
    """Queue a governance message in the app and by email, inside the caller's
    transaction (it is sent once that commits)."""
    notify.queue(people, [Channel.IN_APP, Channel.EMAIL], subject=subject[:200], body=body,
                 link=url, purpose=purpose, organisation_id=organisation_id, about=about)


# --- a team's activities and their risks (RSK-01) -----------------------------------


def draft_of(team: Team, *, actor) -> Submission:
    """The team's draft: the one being written, or a new one that starts as a copy of the
    last version (its activities, risks, people and the themes they were filed under)."""
    probe = Submission(team=team, version=0)
    _must(actor, perms.CHANGE, ACTIVITIES, probe,
          "Only the team's line manager keeps its lone-working activities.")
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()
        latest = team.submissions.order_by("-version").first()
        if latest is not None and latest.state in (Submission.State.DRAFT,
                                                   Submission.State.RETURNED):
            return latest
        draft = Submission.objects.create(team=team, version=(latest.version + 1)
                                          if latest else 1, created_at=clock.now())
        if latest is not None:
            for activity in latest.activities.prefetch_related("risks", "people"):
                copy = Activity.objects.create(
                    submission=draft, title=activity.title,
                    description=activity.description, where=activity.where,
                    when=activity.when, roles=activity.roles)
                copy.people.set(activity.people.all())
                ActivityRisk.objects.bulk_create([
                    ActivityRisk(activity=copy, risk_type=r.risk_type,
                                 description=r.description, theme_id=r.theme_id)
                    for r in activity.risks.all()])
        audit.record("activities.draft", actor=actor, obj=draft,
                     summary=f"Version {draft.version} of {team.name}'s lone-working "
                             "activities started")
    return draft


def _editable(submission: Submission, actor) -> Submission:
    _must(actor, perms.CHANGE, ACTIVITIES, submission,
          "Only the team's line manager keeps its lone-working activities.")
    locked = Submission.objects.select_for_update(of=("self",)).select_related(
        "team__directorate").get(pk=submission.pk)
    if locked.state not in (Submission.State.DRAFT, Submission.State.RETURNED):
        raise GovernanceConflict(f"This version is {locked.get_state_display().lower()}: "
                                 "start a new draft to change it.")
    return locked


def do_add_activity(submission: Submission, *, actor, title: str, description: str = "",
                    where: str = "", when: str = "", roles: str = "",
                    people: list[Person] = (), risks: list[dict] = ()) -> Activity:
    """RSK-01: an activity of the team, where and when it happens, who does it (roles and
    named people of the team) and its risks (each a type and a description)."""
    title = _text(title, "title", limit=200)
    if not risks:
        raise GovernanceError("Give at least one risk of the activity.", "risks")
    checked = []
    for number, risk in enumerate(risks, 1):
        kind = risk.get("risk_type", "")
        if kind not in RiskType.values:
            raise GovernanceError(f"Risk {number}: the type must be one of "
                                  f"{', '.join(RiskType.values)}.", "risks")
        checked.append((kind, _text(risk.get("description", ""), "risk's description",
                                    limit=2000)))
    with transaction.atomic():
        submission = _editable(submission, actor)
        strangers = [p for p in people if p.team_id != submission.team_id]
        if strangers:
            raise GovernanceError(f"{strangers[0].full_name} is not in {submission.team.name}: "
                                  "name the team's own people.", "people")
        activity = Activity.objects.create(
            submission=submission, title=title,
            description=_text(description, "description", limit=5000, required=False),
            where=_text(where, "where", limit=300, required=False),
            when=_text(when, "when", limit=300, required=False),
            roles=_text(roles, "roles", limit=300, required=False))
        activity.people.set(people)
        ActivityRisk.objects.bulk_create([ActivityRisk(activity=activity, risk_type=kind,
                                                       description=text)
                                          for kind, text in checked])
        audit.record("activities.add", actor=actor, obj=submission,
                     summary=f"Activity added to {submission.team.name}'s list: {title}"[:300],
                     after={"activity": activity.pk, "risks": [k for k, _ in checked],
                            "people": [p.pk for p in people]})
    return activity


def do_remove_activity(activity: Activity, *, actor) -> None:
    with transaction.atomic():
        submission = _editable(activity.submission, actor)
        title = activity.title
        activity.delete()
        audit.record("activities.remove", actor=actor, obj=submission,
                     summary=f"Activity removed from {submission.team.name}'s list: "
                             f"{title}"[:300])


def do_submit(submission: Submission, *, actor) -> Submission:
    """RSK-01: the team manager sends the list to the directorate."""
    with transaction.atomic():
        submission = _editable(submission, actor)
        if not submission.activities.exists():
            raise GovernanceError("Add the team's lone-working activities before you submit.")
        submission.state = Submission.State.SUBMITTED
        submission.submitted_at, submission.submitted_by = clock.now(), actor
        submission.save(update_fields=["state", "submitted_at", "submitted_by"])
        team = submission.team
        _tell(_directorate_leads(team),
              subject=f"{team.name}'s lone-working activities wait for your review",
              body=f"{team.name} has sent version {submission.version} of its lone-working "
                   "activities and their risks. Accept them, or return them with comments.",
              url=link("team_activities", team.pk), purpose="activities_submitted",
              organisation_id=team.directorate.organisation_id,
              about=("submission", submission.pk))
        audit.record("activities.submit", actor=actor, obj=submission,
                     summary=f"{team.name}'s lone-working activities, version "
                             f"{submission.version}, submitted to the directorate")
    return submission


def do_review(submission: Submission, *, actor, accept: bool, comments: str = "") -> Submission:
    """RSK-01: the directorate lead accepts a submitted list, or returns it with comments
    for the team to change and submit again."""
    _must(actor, perms.ACT, ACTIVITIES, submission,
          "Only the team's directorate lead reviews its lone-working activities.")
    comments = _text(comments, "comments", limit=5000, required=not accept)
    with transaction.atomic():
        locked = Submission.objects.select_for_update(of=("self",)).select_related(
            "team__directorate").get(pk=submission.pk)
        if locked.state != Submission.State.SUBMITTED:
            raise GovernanceConflict("Only a submitted list can be accepted or returned.")
        now = clock.now()
        locked.state = Submission.State.ACCEPTED if accept else Submission.State.RETURNED
        locked.decided_at, locked.decided_by, locked.comments = now, actor, comments
        if accept:
            locked.review_on = timezone.localdate(now) + REVIEW_AFTER
        locked.save(update_fields=["state", "decided_at", "decided_by", "comments",
                                   "review_on"])
        team = locked.team
        _tell(_team_managers(team),
              subject=f"Your team's lone-working activities were "
                      f"{'accepted' if accept else 'returned'}",
              body=(f"Version {locked.version} of {team.name}'s lone-working activities was "
                    "accepted." if accept else
                    f"Version {locked.version} of {team.name}'s lone-working activities was "
                    f"returned with comments: {comments}\nChange it and submit it again."),
              url=link("team_activities", team.pk), purpose="activities_decided",
              organisation_id=team.directorate.organisation_id,
              about=("submission", locked.pk))
        audit.record("activities.accept" if accept else "activities.return", actor=actor,
                     obj=locked, summary=f"{locked.team.name}'s lone-working activities, "
                                         f"version {locked.version}, "
                                         f"{'accepted' if accept else 'returned'}",
                     after={"comments": comments})
    return locked


def accepted_risks(organisation_id: int):
    """RSK-01: every risk of every team's latest accepted list, for the thematic
    analysis."""
    latest = (Submission.objects.filter(team__directorate__organisation_id=organisation_id,
                                        state=Submission.State.ACCEPTED)
              .values("team_id").annotate(version=Max("version")))
    wanted = {(row["team_id"], row["version"]) for row in latest}
    return [risk for risk in ActivityRisk.objects.filter(
        activity__submission__team__directorate__organisation_id=organisation_id,
        activity__submission__state=Submission.State.ACCEPTED)
        .select_related("activity__submission__team", "theme")
        if (risk.activity.submission.team_id, risk.activity.submission.version) in wanted]


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



# --- team SOPs (RSK-04) ---------------------------------------------------------------


def do_start_sop(team: Team, *, actor) -> Sop:
    """RSK-04: a new draft version of the team's SOP, starting from the last version's
    themes and local arrangements (the first starts from the themes of the team's
    accepted risks)."""
    _must(actor, perms.CHANGE, SOP, Sop(team=team, version=0), SOP_WRITES)
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
    _must(actor, perms.CHANGE, SOP, sop, SOP_WRITES)
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
        team = locked.team
        _tell(_directorate_leads(team),
              subject=f"{team.name}'s SOP waits for your approval",
              body=f"Version {locked.version} of {team.name}'s lone-working standard "
                   "operating procedure waits for your approval. Approve it, or return it "
                   "with comments.",
              url=link("sop", locked.pk), purpose="sop_submitted",
              organisation_id=team.directorate.organisation_id, about=("sop", locked.pk))
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
            "team__directorate").get(pk=sop.pk)
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
        team = locked.team
        _tell(_team_managers(team),
              subject=f"Your team's SOP was {'approved' if approve else 'returned'}",
              body=(f"Version {locked.version} of {team.name}'s SOP was approved: it is the "
                    f"team's SOP until its review on {locked.review_on:%d %B %Y}."
                    if approve else
                    f"Version {locked.version} of {team.name}'s SOP was returned with "
                    f"comments: {comments}\nChange it and submit it again."),
              url=link("sop", locked.pk), purpose="sop_decided",
              organisation_id=team.directorate.organisation_id, about=("sop", locked.pk))
        audit.record("sop.approve" if approve else "sop.return", actor=actor, obj=locked,
                     summary=f"{locked.team.name}'s SOP, version {locked.version}, "
                             f"{'approved' if approve else 'returned'}",
                     after={"comments": comments, "superseded": superseded})
    return locked


# --- themes and controls (RSK-01, RSK-02) --------------------------------------------


def _catalogue(organisation: Organisation, actor) -> None:
    _must(actor, perms.CHANGE, CATALOGUE, Theme(organisation=organisation),
          "Only the security manager keeps the themes and the controls.")


def do_save_theme(organisation: Organisation, *, actor, title: str, risk_type: str,
                  description: str = "", theme: Theme | None = None) -> Theme:
    _catalogue(organisation, actor)
    title = _text(title, "title", limit=200)
    if risk_type not in RiskType.values:
        raise GovernanceError(f"risk_type must be one of {', '.join(RiskType.values)}.",
                              "risk_type")
    with transaction.atomic():
        if Theme.objects.filter(organisation=organisation, title__iexact=title).exclude(
                pk=getattr(theme, "pk", None)).exists():
            raise GovernanceError(f"There is already a theme called {title!r}.", "title")
        theme = theme or Theme(organisation=organisation)
        theme.title, theme.risk_type = title, risk_type
        theme.description = _text(description, "description", limit=5000, required=False)
        theme.save()
        audit.record("theme.save", actor=actor, obj=theme, summary=f"Theme saved: {title}",
                     after={"risk_type": risk_type})
    return theme


def do_file_under(risks: list[ActivityRisk], theme: Theme | None, *, actor) -> int:
    """RSK-01: the security manager files teams' risk statements under a theme (or takes
    them out of one)."""
    organisation_id = theme.organisation_id if theme else None
    if theme is not None:
        _catalogue(theme.organisation, actor)
    with transaction.atomic():
        for risk in risks:
            team = risk.activity.submission.team
            organisation = team.directorate.organisation
            if organisation_id not in (None, organisation.pk):
                raise GovernanceError("A theme groups its own trust's risks only.", "risks")
            _catalogue(organisation, actor)
        ids = [r.pk for r in risks]
        ActivityRisk.objects.filter(pk__in=ids).update(theme=theme)
        if ids:
            audit.record("theme.file", actor=actor, obj=theme, object_type="governance.theme",
                         object_id=getattr(theme, "pk", ""),
                         summary=f"{len(ids)} risk statements filed under "
                                 f"{theme.title if theme else 'no theme'}"[:300],
                         after={"statements": ids})
    return len(ids)


def do_save_control(organisation: Organisation, *, actor, title: str, themes: list[Theme],
                    description: str = "", control: Control | None = None) -> Control:
    """RSK-02: a control in the catalogue, and the themes it mitigates."""
    _catalogue(organisation, actor)
    title = _text(title, "title", limit=200)
    if not themes:
        raise GovernanceError("Say which themes the control mitigates.", "themes")
    if any(t.organisation_id != organisation.pk for t in themes):
        raise GovernanceError("A control mitigates its own trust's themes only.", "themes")
    with transaction.atomic():
        if Control.objects.filter(organisation=organisation, title__iexact=title).exclude(
                pk=getattr(control, "pk", None)).exists():
            raise GovernanceError(f"There is already a control called {title!r}.", "title")
        control = control or Control(organisation=organisation)
        control.title = title
        control.description = _text(description, "description", limit=5000, required=False)
        control.save()
        control.themes.set(themes)
        audit.record("control.save", actor=actor, obj=control,
                     summary=f"Control saved: {title}"[:300],
                     after={"themes": [t.pk for t in themes]})
    return control


# --- the risk register (RSK-03) ---------------------------------------------------------


def _scores(values: dict) -> dict[str, scoring.Score]:
    try:
        return {which: scoring.Score(values[f"{which}_likelihood"],
                                     values[f"{which}_consequence"]) for which in SCORES}
    except KeyError as missing:
        raise GovernanceError(f"Give the {str(missing).strip(chr(39))}.",
                              str(missing).strip("'")) from None
    except scoring.ScoreError as error:
        raise GovernanceError(str(error), error.field) from None


def do_add_risk(organisation: Organisation, *, actor, level: str, title: str,
                description: str, owner: Person, review_on: date, scores: dict,
                directorate=None, team: Team | None = None, lone_working: bool = False,
                themes: list[Theme] = (), controls: list[Control] = (),
                controls_in_place: str = "", gaps_in_control: str = "",
                gaps_in_assurance: str = "") -> Risk:
    """RSK-03: a risk on the register, scored three times on the 5×5 matrix."""
    if level not in Risk.Level.values:
        raise GovernanceError(f"level must be one of {', '.join(Risk.Level.values)}.",
                              "level")
    if level == Risk.Level.TEAM and team is None:
        raise GovernanceError("Say which team's risk it is.", "team")
    if level == Risk.Level.DIRECTORATE and directorate is None:
        raise GovernanceError("Say which directorate's risk it is.", "directorate")
    if lone_working and level != Risk.Level.ORGANISATION:
        raise GovernanceError("The lone-working risk is the organisation's.", "level")
    if owner.organisation_id != organisation.pk:
        raise GovernanceError("The owner must work for the trust.", "owner")
    score = _scores(scores)
    if review_on is None or review_on <= timezone.localdate(clock.now()):
        raise GovernanceError("Give a review date in the future.", "review_on")
    risk = Risk(organisation=organisation, level=level, lone_working=lone_working,
                directorate=team.directorate if level == Risk.Level.TEAM else (
                    directorate if level == Risk.Level.DIRECTORATE else None),
                team=team if level == Risk.Level.TEAM else None,
                title=_text(title, "title", limit=200),
                description=_text(description, "description", limit=5000), owner=owner,
                review_on=review_on, created_at=clock.now(),
                controls_in_place=_text(controls_in_place, "controls in place", limit=5000,
                                        required=False),
                gaps_in_control=_text(gaps_in_control, "gaps in control", limit=5000,
                                      required=False),
                gaps_in_assurance=_text(gaps_in_assurance, "gaps in assurance", limit=5000,
                                        required=False))
    _set_scores(risk, score)
    _must(actor, perms.CHANGE, REGISTER, risk, "You cannot add a risk at that level.")
    with transaction.atomic():
        if lone_working and Risk.objects.filter(organisation=organisation,
                                                lone_working=True).exists():
            raise GovernanceConflict("The trust already has its lone-working risk: change "
                                     "that one.")
        risk.save()
        risk.themes.set(themes)
        risk.controls.set(controls)
        _record_scores(risk, score, actor, reason="first assessed")
        audit.record("risk.add", actor=actor, obj=risk,
                     summary=f"Risk added to the register: {risk.title} "
                             f"({score['current']})"[:300],
                     after={which: s.value for which, s in score.items()})
    return risk


def _set_scores(risk: Risk, score: dict[str, scoring.Score]) -> None:
    for which, value in score.items():
        setattr(risk, f"{which}_likelihood", value.likelihood)
        setattr(risk, f"{which}_consequence", value.consequence)
    risk.current_score = score["current"].value


def _record_scores(risk: Risk, score: dict, actor, *, reason: str) -> None:
    ScoreChange.objects.bulk_create([
        ScoreChange(risk=risk, which=which, likelihood=s.likelihood,
                    consequence=s.consequence, score=s.value, at=clock.now(), by=actor,
                    reason=reason[:500]) for which, s in score.items()])


def do_rescore(risk: Risk, *, actor, scores: dict, reason: str) -> Risk:
    """RSK-03: change a risk's scores; each change is kept, with who, when and why."""
    _must(actor, perms.CHANGE, REGISTER, risk, "You cannot change this risk.")
    reason = _text(reason, "reason", limit=500)
    with transaction.atomic():
        locked = Risk.objects.select_for_update().get(pk=risk.pk)
        merged = {f"{w}_{part}": getattr(locked, f"{w}_{part}") for w in SCORES
                  for part in ("likelihood", "consequence")} | scores
        score = _scores(merged)
        changed = {w: s for w, s in score.items() if s != locked.score(w)}
        if not changed:
            raise GovernanceError("The scores are as they were.", "scores")
        before = {w: locked.score(w).value for w in changed}
        _set_scores(locked, score)
        locked.save()
        _record_scores(locked, changed, actor, reason=reason)
        audit.record("risk.rescore", actor=actor, obj=locked,
                     summary=f"{locked.title}: rescored ({reason})"[:300],
                     before=before, after={w: s.value for w, s in changed.items()})
    return locked


def do_add_action(risk: Risk, *, actor, description: str, owner: Person,
                  due_on: date) -> RiskAction:
    _must(actor, perms.CHANGE, REGISTER, risk, "You cannot change this risk.")
    if owner.organisation_id != risk.organisation_id:
        raise GovernanceError("The owner must work for the trust.", "owner")
    if due_on is None:
        raise GovernanceError("Give the date the action is due.", "due_on")
    with transaction.atomic():
        action = RiskAction.objects.create(
            risk=risk, description=_text(description, "description", limit=2000),
            owner=owner, due_on=due_on)
        audit.record("risk.action", actor=actor, obj=risk,
                     summary=f"{risk.title}: action for {owner.full_name} due "
                             f"{due_on:%d %b %Y}"[:300], after={"action": action.pk})
    return action


# --- the dashboard's thresholds (RSK-05) -----------------------------------------------


def do_set_threshold(organisation: Organisation, *, actor, column: str, amber: float,
                     red: float) -> Threshold:
    """RSK-05: where a dashboard column turns amber and red for the whole trust, set by
    the security manager. A part of a whole is compared as a percentage, a count as it
    is for a team (and per team for a directorate or the trust); red must lie beyond
    amber in the column's bad direction."""
    _must(actor, perms.CHANGE, DASHBOARD, Threshold(organisation=organisation),
          "Only the security manager sets the dashboard's thresholds.")
    found = figures.column(column)
    if found is None:
        raise GovernanceError(f"There is no dashboard column {column!r}. The columns are: "
                              f"{', '.join(c.key for c in figures.columns())}.", "column")
    problem = found.threshold_problem(amber, red)
    if problem:
        raise GovernanceError(problem[1], problem[0])
    with transaction.atomic():
        # One change at a time per trust: two first settings of a column do not collide.
        Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
        threshold = Threshold.objects.filter(organisation=organisation, column=column).first()
        before = {"amber": threshold.amber, "red": threshold.red} if threshold else {
            "amber": found.amber, "red": found.red, "default": True}
        threshold = threshold or Threshold(organisation=organisation, column=column)
        threshold.amber, threshold.red = float(amber), float(red)
        threshold.save()
        audit.record("dashboard.threshold", actor=actor, obj=threshold,
                     summary=f"Dashboard: {found.label} turns amber beyond {amber:g} and red "
                             f"beyond {red:g}"[:300],
                     before=before, after={"amber": threshold.amber, "red": threshold.red})
    return threshold


# --- reviews (RSK-06) ------------------------------------------------------------------

# RSK-06: how long before a review date its owners are reminded, and how often after
# until it is done.
REMIND_BEFORE = timedelta(days=30)
REMIND_AGAIN = timedelta(days=7)


def do_request_review(organisation: Organisation, *, subject: str, reason: str,
                      source: str = "", actor=None, risk: Risk | None = None,
                      team: Team | None = None) -> ReviewRequest:
    """RSK-06: an out-of-cycle review of a risk, a team's SOP or its activities, asked for
    with a reason (an incident that exposed a weakness, a change of policy), by a person
    or by another part of Lonewatch (``core.hooks.review_requested``). Its owners are
    told at once, and it stays open until done."""
    if subject not in ReviewRequest.Subject.values:
        raise GovernanceError(f"subject must be one of "
                              f"{', '.join(ReviewRequest.Subject.values)}.", "subject")
    if (subject == ReviewRequest.Subject.RISK) != (risk is not None):
        raise GovernanceError("Name the risk to review (and only for a risk).", "risk")
    if subject != ReviewRequest.Subject.RISK and team is None:
        raise GovernanceError("Say which team's SOP or activities to review.", "team")
    for thing in (risk, team):
        if thing is not None and _organisation_of(thing) != organisation.pk:
            raise GovernanceError("That is not the trust's.", "subject")
    if actor is not None and risk is not None:
        _must(actor, perms.VIEW, REGISTER, risk, "You cannot see that risk.")
    reason = _text(reason, "reason", limit=5000)
    with transaction.atomic():
        request = ReviewRequest.objects.create(
            organisation=organisation, subject=subject, risk=risk, team=team, reason=reason,
            source=(source or "").strip()[:200], requested_by=actor,
            requested_at=clock.now())
        owners = [risk.owner] if risk else _team_managers(team)
        _tell(owners, subject=f"A review is asked for: {_what(request)}",
              body=f"A review of {_what(request)} is asked for, out of its usual cycle: "
                   f"{reason}" + (f" ({request.source})" if request.source else ""),
              url=link("home"), purpose="review_requested",
              organisation_id=organisation.pk, about=("review_request", request.pk))
        audit.record("review.request", actor=actor, obj=request,
                     actor_label=None if actor else "system",
                     summary=f"Review of {_what(request)} asked for: {reason}"[:300],
                     after={"source": request.source, "told": [p.pk for p in owners]})
    return request


def review_requested(organisation_id: int, *, subject: str, reason: str, source: str,
                     team_id: int | None = None, risk_id: int | None = None
                     ) -> ReviewRequest:
    """The ``core.hooks.review_requested`` handler: another part of Lonewatch asks."""
    organisation = Organisation.objects.get(pk=organisation_id)
    risk = Risk.objects.get(pk=risk_id, organisation=organisation) if risk_id else None
    team = Team.objects.select_related("directorate").get(
        pk=team_id, directorate__organisation=organisation) if team_id else None
    return do_request_review(organisation, subject=subject, reason=reason, source=source,
                             risk=risk, team=team)


def _organisation_of(thing) -> int:
    return thing.organisation_id if isinstance(thing, Risk) else \
        thing.directorate.organisation_id


def _what(request: ReviewRequest) -> str:
    if request.risk_id:
        return f"the risk “{request.risk.title}”"
    return f"{request.team.name}'s {request.get_subject_display().lower()}" \
        if request.subject == ReviewRequest.Subject.ACTIVITIES else \
        f"{request.team.name}'s SOP"


def do_close_review_request(request: ReviewRequest, *, actor) -> ReviewRequest:
    """RSK-06: the review asked for is done."""
    if request.risk_id:
        _must(actor, perms.CHANGE, REGISTER, request.risk, "Only the risk's keepers close it.")
    else:
        _must(actor, perms.CHANGE, ACTIVITIES, Submission(team=request.team, version=0),
              "Only the team's line manager closes it.")
    with transaction.atomic():
        locked = ReviewRequest.objects.select_for_update().get(pk=request.pk)
        if locked.done_at is not None:
            raise GovernanceConflict("This review is already done.")
        locked.done_at, locked.done_by = clock.now(), actor
        locked.save(update_fields=["done_at", "done_by"])
        audit.record("review.done", actor=actor, obj=locked,
                     summary=f"Review of {_what(locked)} done"[:300])
    return locked


def remind_reviews(limit: int = 100) -> int:
    """RSK-06: a risk, an approved SOP or an accepted list of activities whose review date
    is a month away or past reminds its owners, once, and weekly while it is overdue."""
    today = timezone.localdate(clock.now())
    due = Q(review_on__lte=today + REMIND_BEFORE) & (
        Q(reminded_on__isnull=True) | Q(reminded_on__lte=today - REMIND_AGAIN))
    told = 0
    with transaction.atomic():
        for model, filters in ((Risk, {}), (Sop, {"state": Sop.State.APPROVED}),
                               (Submission, {"state": Submission.State.ACCEPTED})):
            ids = claim(model.objects.filter(due, **filters).order_by("review_on"),
                        limit=limit, update={"reminded_on": today})
            for record in model.objects.filter(pk__in=ids):
                _remind(record, today)
            told += len(ids)
    return told


def _remind(record, today: date) -> None:
    late = record.review_on < today
    when = f"{'was due' if late else 'is due'} on {record.review_on:%d %B %Y}"
    if isinstance(record, Risk):
        owners, what, organisation_id = [record.owner], f"The risk “{record.title}”", \
            record.organisation_id
    else:
        owners = _team_managers(record.team)
        what = f"{record.team.name}'s " + ("SOP" if isinstance(record, Sop) else
                                           "lone-working activities")
        organisation_id = record.team.directorate.organisation_id
    _tell(owners, subject=f"Review {'overdue' if late else 'due'}: {what}",
          body=f"{what}: its review {when}. Review it and set the next date.",
          url=link("home"), purpose="governance_review_due",
          organisation_id=organisation_id, about=(record._meta.model_name, record.pk))
    audit.record("review.reminder", actor=None, obj=record,
                 summary=f"{what}: review {when}; {len(owners)} told"[:300])


# --- external security provision (RSK-07) ------------------------------------------------

# RSK-07: a provision is short term: at most this long, and its end is reminded before.
PROVISION_LONGEST = timedelta(days=90)
PROVISION_REMIND_BEFORE = timedelta(days=7)


def do_request_provision(team: Team, *, actor, service_user: str, address: str,
                         why_care_continues: str, mdt_date: date, mdt_attendees: str,
                         mdt_outcome: str, starts_on: date, ends_on: date
                         ) -> SecurityProvision:
    """RSK-07 (000 §11): a physical security presence, asked for when care can neither be
    withdrawn nor moved and an MDT meeting has considered every other option. It waits
    for an executive's sign-off."""
    probe = SecurityProvision(team=team, organisation_id=team.directorate.organisation_id)
    _must(actor, perms.CHANGE, PROVISION, probe,
          "Only the team's line manager or the security manager asks for it.")
    today = timezone.localdate(clock.now())
    fields = {"service_user": (service_user, 200), "address": (address, 300),
              "why_care_continues": (why_care_continues, 5000),
              "mdt_attendees": (mdt_attendees, 2000), "mdt_outcome": (mdt_outcome, 5000)}
    text = {name: _text(value, name.replace("_", " "), limit=limit)
            for name, (value, limit) in fields.items()}
    if mdt_date is None or mdt_date > today:
        raise GovernanceError("Give the date of the MDT meeting that considered every other "
                              "option: it must have taken place.", "mdt_date")
    if starts_on is None or ends_on is None or ends_on <= starts_on:
        raise GovernanceError("Give a start date and an end date after it.", "ends_on")
    if ends_on - starts_on > PROVISION_LONGEST:
        raise GovernanceError("A security presence is short term: at most 90 days, while a "
                              "longer-term answer is put in place.", "ends_on")
    if ends_on <= today:
        raise GovernanceError("The end date is already past.", "ends_on")
    with transaction.atomic():
        provision = SecurityProvision.objects.create(
            organisation_id=probe.organisation_id, team=team, mdt_date=mdt_date,
            starts_on=starts_on, ends_on=ends_on, requested_by=actor,
            requested_at=clock.now(), **text)
        executives = list(Person.objects.filter(
            organisation_id=probe.organisation_id, roles__role=Role.EXECUTIVE,
            user__is_active=True).distinct())
        _tell(executives, subject="Security provision waiting for your sign-off",
              body=f"{team.name} asks for a physical security presence at "
                   f"{provision.address} from {starts_on:%d %B} to {ends_on:%d %B}. "
                   "It cannot start without an executive's sign-off.",
              url=link("home"), purpose="provision_sign_off",
              organisation_id=probe.organisation_id,
              about=("security_provision", provision.pk))
        audit.record("provision.request", actor=actor, obj=provision,
                     summary=f"Security provision asked for at {provision.address}"[:300],
                     after={"starts_on": starts_on, "ends_on": ends_on,
                            "mdt_date": mdt_date})
    return provision


def do_sign_off_provision(provision: SecurityProvision, *, actor, approve: bool,
                          note: str = "") -> SecurityProvision:
    """RSK-07: an executive signs the provision off (or declines it), from their own
    account: nobody else's sign-off, and no sign-off on their own request, counts."""
    _must(actor, perms.ACT, PROVISION, provision,
          "Only an executive director signs off a security provision.")
    if provision.requested_by_id == actor.pk:
        raise PermissionDenied("Someone other than who asked for it signs it off.")
    note = _text(note, "note", limit=5000, required=not approve)
    with transaction.atomic():
        locked = SecurityProvision.objects.select_for_update().get(pk=provision.pk)
        if locked.state != SecurityProvision.State.REQUESTED:
            raise GovernanceConflict(f"This provision is "
                                     f"{locked.get_state_display().lower()}.")
        if approve and locked.ends_on <= timezone.localdate(clock.now()):
            raise GovernanceConflict("Its end date has passed: ask for a new one.")
        locked.state = SecurityProvision.State.ACTIVE if approve else \
            SecurityProvision.State.DECLINED
        locked.signed_off_by, locked.signed_off_at = actor, clock.now()
        locked.sign_off_note = note
        locked.save(update_fields=["state", "signed_off_by", "signed_off_at",
                                   "sign_off_note"])
        audit.record("provision.sign_off" if approve else "provision.decline", actor=actor,
                     obj=locked, summary=f"Security provision at {locked.address} "
                                         f"{'signed off' if approve else 'declined'}"[:300],
                     after={"note": note})
    return locked


def end_provisions(limit: int = 100) -> int:
    """RSK-07: an active provision is reminded a week before its end date, and ends on
    it."""
    today = timezone.localdate(clock.now())
    handled = 0
    with transaction.atomic():
        active = SecurityProvision.objects.filter(state=SecurityProvision.State.ACTIVE)
        ended = claim(active.filter(ends_on__lte=today).order_by("ends_on"), limit=limit,
                      update={"state": SecurityProvision.State.ENDED})
        for provision in SecurityProvision.objects.filter(pk__in=ended):
            audit.record("provision.end", actor=None, obj=provision,
                         summary=f"Security provision at {provision.address} ended on "
                                 f"{provision.ends_on:%d %b %Y}"[:300])
        soon = claim(active.filter(ends_on__lte=today + PROVISION_REMIND_BEFORE,
                                   ends_on__gt=today, end_reminded_on__isnull=True)
                     .order_by("ends_on"), limit=limit, update={"end_reminded_on": today})
        for provision in SecurityProvision.objects.filter(pk__in=soon).select_related(
                "requested_by__person", "team"):
            people = [p for p in [getattr(provision.requested_by, "person", None)]
                      + _team_managers(provision.team) if p is not None]
            _tell(list(dict.fromkeys(people)), subject="A security provision ends soon",
                  body=f"The security presence at {provision.address} ends on "
                       f"{provision.ends_on:%d %B %Y}. Put the longer-term answer in place, "
                       "or ask for a new provision with a new MDT meeting.",
                  url=link("home"), purpose="provision_ending",
                  organisation_id=provision.organisation_id,
                  about=("security_provision", provision.pk))
        handled = len(ended) + len(soon)
    return handled


# --- board assurance -------------------------------------------------------------------


def do_start_assurance(organisation: Organisation, *, actor, period_start: date,
                       period_end: date) -> AssuranceReport:
    """A half-yearly board assurance report, pre-filled with the evidence Lonewatch holds;
    the security manager writes the rest."""
    _must(actor, perms.CHANGE, ASSURANCE, AssuranceReport(organisation=organisation),
          "The board assurance report is the security manager's to write.")
    if period_start is None or period_end is None or period_end <= period_start:
        raise GovernanceError("Give the half-year: a start and an end after it.",
                              "period_end")
    with transaction.atomic():
        if AssuranceReport.objects.filter(organisation=organisation,
                                          period_end=period_end).exists():
            raise GovernanceConflict("There is already a report for that period.")
        report = AssuranceReport.objects.create(
            organisation=organisation, period_start=period_start, period_end=period_end,
            created_by=actor, created_at=clock.now())
        audit.record("assurance.start", actor=actor, obj=report,
                     summary=f"Board assurance report started for {period_start:%d %b %Y}"
                             f" to {period_end:%d %b %Y}")
    return report


def do_write_assurance(report: AssuranceReport, *, actor, part: str,
                       text: str) -> AssuranceReport:
    """The security manager's words for one part of the standard."""
    _must(actor, perms.CHANGE, ASSURANCE, report,
          "The board assurance report is the security manager's to write.")
    if part not in {key for key, _, _ in assurance.PARTS}:
        raise GovernanceError(f"part must be one of "
                              f"{', '.join(k for k, _, _ in assurance.PARTS)}.",
                              "part")
    text = _text(text, "text", limit=20000, required=False)
    with transaction.atomic():
        locked = AssuranceReport.objects.select_for_update().get(pk=report.pk)
        if locked.finalised_at is not None:
            raise GovernanceConflict("The report is final: start the next one.")
        locked.written = {**locked.written, part: text}
        locked.save(update_fields=["written"])
        audit.record("assurance.write", actor=actor, obj=locked,
                     summary=f"Board assurance: {part} written", after={part: text[:500]})
    return locked


def do_finalise_assurance(report: AssuranceReport, *, actor) -> AssuranceReport:
    """The report is final: its evidence is frozen as it stands now, for the board pack."""
    _must(actor, perms.CHANGE, ASSURANCE, report,
          "The board assurance report is the security manager's to write.")
    evidence = assurance.gather(actor)
    with transaction.atomic():
        locked = AssuranceReport.objects.select_for_update().get(pk=report.pk)
        if locked.finalised_at is not None:
            raise GovernanceConflict("The report is already final.")
        locked.evidence, locked.finalised_at, locked.finalised_by = evidence, clock.now(), \
            actor
        locked.save(update_fields=["evidence", "finalised_at", "finalised_by"])
        audit.record("assurance.final", actor=actor, obj=locked,
                     summary="Board assurance report made final", after={"evidence": evidence})
    return locked
