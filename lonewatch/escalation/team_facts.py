"""What escalation tells a team's SOP (RSK-04), read live: the steps a missed check-in in
the team follows now, whose steps they are, and whom each reaches. Registered with
``core.team_facts`` in ``EscalationConfig.ready()``. Names only, no numbers (ORG-03)."""

from django.db.models import Q

from lonewatch.escalation import policy
from lonewatch.escalation.models import Target
from lonewatch.org.models import Person, Team
from lonewatch.org.roles import Role, Scope

FOLLOWS = {
    policy.OWN: "{team} has escalation steps of its own.",
    policy.ORGANISATION_DEFAULT: "{team} follows the trust default escalation policy.",
    policy.BUILT_IN: "{team} follows the trust policy's escalation steps, which the trust "
                     "has not changed.",
}


def _names(people) -> str:
    names = list(dict.fromkeys(p.full_name for p in people))
    if not names:
        return ""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _holders(role: str, team: Team) -> list[Person]:
    """The active people holding ``role`` whose scope reaches the team."""
    reach = (Q(roles__scope=Scope.ORGANISATION) | Q(roles__scope=Scope.TEAM, roles__team=team)
             | Q(roles__scope=Scope.DIRECTORATE, roles__directorate_id=team.directorate_id))
    return list(Person.objects.filter(
        Q(roles__role=role) & reach, organisation_id=team.directorate.organisation_id,
        user__is_active=True).distinct().order_by("full_name"))


def _line_managers(team: Team) -> list[Person]:
    """The workers' own line managers, and the team's where a worker has none (as
    ``org.people.line_managers`` finds them for one worker)."""
    workers = Person.objects.filter(team=team, user__is_active=True,
                                    roles__role=Role.LONE_WORKER).distinct()
    own = list(Person.objects.filter(direct_reports__in=workers, user__is_active=True)
               .distinct().order_by("full_name"))
    if not own or workers.filter(Q(line_manager__isnull=True)
                                 | Q(line_manager__user__is_active=False)).exists():
        own += _holders(Role.LINE_MANAGER, team)
    return own


def _who(target: str, team: Team) -> str:
    if target == Target.WORKER:
        return "the lone worker"
    if target == Target.BUDDY:
        return "their buddy (or cover buddy)"
    if target == Target.LINE_MANAGER:
        names = _names(_line_managers(team))
        return f"their line manager ({names})" if names else "their line manager (none named)"
    if target == Target.SENIOR_MANAGER:
        names = _names(_holders(Role.SENIOR_MANAGER, team))
        return f"the senior manager ({names})" if names else \
            "the senior manager (none named)"
    if target == Target.ALARM_CENTRE:
        return "the alarm centre's operators"
    if target == Target.POLICE_ADVICE:
        return "the line manager and senior manager, advised to call the police with the " \
               "locate summary"
    return Target(target).label


def escalation_steps(team: Team) -> list[str]:
    """ESC-01: what happens when someone in the team misses a check-in."""
    steps, source = policy.in_force(team.pk, team.directorate.organisation_id)
    lines = [FOLLOWS[source].format(team=team.name),
             "When a check-in is missed, each step happens this long after the deadline, "
             "until someone says they are handling it or the worker checks in:"]
    lines += [f"{step.when}: {_who(step.target, team)}, by {step.channel_labels}."
              for step in steps]
    return lines
