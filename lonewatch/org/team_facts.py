"""What org tells a team's SOP (RSK-04), read live: each lone worker's buddy and whether
they have accepted, who is away, and the team's emergency equipment. Registered with
``core.team_facts`` in ``OrgConfig.ready()``.

Names only: contact details stay where ORG-03 keeps them (shown only while needed),
never in a document that is printed and kept in shared drives."""

from django.utils import timezone

from lonewatch import clock
from lonewatch.org.models import Absence, Person, Team
from lonewatch.org.roles import Role


def _until(moment) -> str:
    return timezone.localtime(moment).strftime("%d %b %Y, %H:%M")


def buddies(team: Team) -> list[str]:
    """BUD-01, BUD-02, MOV-01: the buddy arrangements as they stand."""
    now = clock.now()
    workers = list(Person.objects.filter(team=team, user__is_active=True,
                                         roles__role=Role.LONE_WORKER)
                   .select_related("buddy").distinct().order_by("full_name"))
    buddy_ids = {w.buddy_id for w in workers if w.buddy_id}
    away = {a.person_id: a for a in Absence.objects.filter(
        person_id__in=buddy_ids, starts_at__lte=now, ends_at__gt=now).order_by("ends_at")}
    lines = [
        "Each lone worker names a usual buddy, who watches their sessions once they have "
        "accepted (BUD-01). When the buddy is away, the worker names a cover buddy before "
        "starting (BUD-02).",
        f"If a planned visit has not started {team.no_show_grace_minutes} minutes after its "
        "planned start, the buddy is told (MOV-01).",
    ]
    if not workers:
        lines.append(f"No one in {team.name} is recorded as a lone worker.")
    for worker in workers:
        buddy = worker.buddy
        if buddy is None:
            lines.append(f"{worker.full_name}: no buddy named.")
            continue
        line = f"{worker.full_name}: buddy {buddy.full_name}, " + (
            "accepted." if worker.buddy_accepted_at else "not yet accepted.")
        absence = away.get(buddy.pk)
        if absence is not None:
            line += (f" {buddy.full_name} is {absence.get_reason_display().lower()} until "
                     f"{_until(absence.ends_at)}: a cover buddy is named at the start.")
        lines.append(line)
    return lines


def equipment(team: Team) -> list[str]:
    """PRE-05: the emergency equipment each worker confirms before a visit, an item a
    line."""
    return team.equipment or [f"{team.name} lists no emergency equipment."]
