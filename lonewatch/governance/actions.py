"""Lone-working governance, the verbs (RSK-01 … RSK-03). Each owns its transaction and
writes its audit event; who may is asked of the permission engine first."""

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from lonewatch import clock
from lonewatch.core import audit
from lonewatch.core import permissions as perms
from lonewatch.governance import scoring
from lonewatch.governance.models import (
    Activity,
    ActivityRisk,
    Control,
    Risk,
    RiskAction,
    RiskType,
    ScoreChange,
    Submission,
    Theme,
)
from lonewatch.governance.permissions import ACTIVITIES, CATALOGUE, REGISTER
from lonewatch.org.models import Organisation, Person, Team

# RSK-06: how long an accepted activity list or a risk stands before its review.
REVIEW_AFTER = timedelta(days=365)
SCORES = ("initial", "current", "target")


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
        audit.record("activities.submit", actor=actor, obj=submission,
                     summary=f"{submission.team.name}'s lone-working activities, version "
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
            "team").get(pk=submission.pk)
        if locked.state != Submission.State.SUBMITTED:
            raise GovernanceConflict("Only a submitted list can be accepted or returned.")
        now = clock.now()
        locked.state = Submission.State.ACCEPTED if accept else Submission.State.RETURNED
        locked.decided_at, locked.decided_by, locked.comments = now, actor, comments
        if accept:
            locked.review_on = timezone.localdate(now) + REVIEW_AFTER
        locked.save(update_fields=["state", "decided_at", "decided_by", "comments",
                                   "review_on"])
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
                directorate=directorate if level == Risk.Level.DIRECTORATE else None,
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
