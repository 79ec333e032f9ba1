"""Every change to people and their records. Each function owns its transaction
and writes its audit row in it (ORG-05)."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from lonewatch import clock
from lonewatch.core import audit
from lonewatch.org import hooks
from lonewatch.org.models import Absence, NextOfKin, Person, Team

CONTACT_FIELDS = ("email", "mobile", "vehicle_description", "description", "known_breaks")


def snapshot(person: Person, fields) -> dict:
    return {f: getattr(person, f) for f in fields}


def do_update_contact(person: Person, *, actor, **values) -> Person:
    unknown = set(values) - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"not contact fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        before = snapshot(person, values)
        for field, value in values.items():
            setattr(person, field, value)
        person.save(update_fields=list(values))
        old, new = audit.diff(before, snapshot(person, values))
        if new:
            audit.record("person.contact.update", actor=actor, obj=person,
                         summary=f"Contact details of {person.full_name} changed",
                         before=old, after=new)
    return person


def do_set_fitness(person: Person, *, unable: bool, review: date | None, actor) -> Person:
    """ORG-04: occupational health marks a person unable to work alone, with a review date.
    The mark stays until occupational health lifts it: the review date reminds them, it
    does not end the block."""
    if unable and review is None:
        raise ValueError("a review date is needed when marking someone unable to work alone")
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        before = {"unable_to_work_alone": person.unable_to_work_alone,
                  "review": person.unable_to_work_alone_review}
        person.unable_to_work_alone = unable
        person.unable_to_work_alone_review = review if unable else None
        person.unable_to_work_alone_reminded = None
        person.save(update_fields=["unable_to_work_alone", "unable_to_work_alone_review",
                                   "unable_to_work_alone_reminded"])
        audit.record("person.fitness.update", actor=actor, obj=person,
                     summary=(f"{person.full_name} marked unable to work alone until review"
                              if unable else f"{person.full_name} cleared to work alone"),
                     before=before,
                     after={"unable_to_work_alone": unable,
                            "review": person.unable_to_work_alone_review})
        if unable and not before["unable_to_work_alone"]:
            hooks.fitness_block_recorded(person, actor=actor)
    return person


def do_add_next_of_kin(person: Person, *, actor, name, relationship, phone, notes="") -> NextOfKin:
    with transaction.atomic():
        kin = NextOfKin.objects.create(person=person, name=name, relationship=relationship,
                                       phone=phone, notes=notes)
        audit.record("person.next_of_kin.create", actor=actor, obj=person,
                     summary=f"Next of kin added for {person.full_name}",
                     after={"name": name, "relationship": relationship, "phone": phone})
    return kin


def do_remove_next_of_kin(kin: NextOfKin, *, actor) -> None:
    with transaction.atomic():
        person = kin.person
        before = {"name": kin.name, "relationship": kin.relationship, "phone": kin.phone}
        kin.delete()
        audit.record("person.next_of_kin.delete", actor=actor, obj=person,
                     summary=f"Next of kin removed for {person.full_name}", before=before)


def read_next_of_kin(person: Person, *, actor) -> list[NextOfKin]:
    """Next of kin are sensitive: every read leaves an audit row (ORG-05)."""
    kin = list(person.next_of_kin.all())
    audit.record_read("person.next_of_kin.read", actor=actor, obj=person,
                      summary=f"{actor.get_username()} viewed next of kin of {person.full_name}")
    return kin


def do_accept_buddy(person: Person, *, actor) -> Person:
    """BUD-01: the nominated buddy accepts being ``person``'s buddy."""
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        person.buddy_accepted_at = clock.now()
        person.save(update_fields=["buddy_accepted_at"])
        audit.record("person.buddy.accept", actor=actor, obj=person,
                     summary=f"{person.buddy} accepted being buddy to {person.full_name}")
    return person


def do_add_absence(person: Person, *, reason: str, starts_at, ends_at, actor):
    """BUD-02: record leave, sickness or time off duty."""
    if reason not in Absence.Reason.values:
        raise ValueError(f"reason must be one of {', '.join(Absence.Reason.values)}")
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValueError("give the times with a time zone, like 2026-12-01T09:00:00Z")
    if ends_at <= starts_at:
        raise ValueError("the end must be after the start")
    with transaction.atomic():
        absence = Absence.objects.create(person=person, reason=reason, starts_at=starts_at,
                                         ends_at=ends_at)
        audit.record("person.absence.create", actor=actor, obj=person,
                     summary=f"{person.full_name}: {absence.get_reason_display().lower()} "
                             f"recorded",
                     after={"reason": reason, "starts_at": starts_at, "ends_at": ends_at})
    return absence


def do_remove_absence(absence, *, actor) -> None:
    with transaction.atomic():
        person = absence.person
        before = {"reason": absence.reason, "starts_at": absence.starts_at,
                  "ends_at": absence.ends_at}
        absence.delete()
        audit.record("person.absence.delete", actor=actor, obj=person,
                     summary=f"{person.full_name}: absence removed", before=before)


class PracticeError(ValueError):
    """A team's lone-working practice that cannot be saved; shown as it is."""


def do_set_team_practice(team: Team, *, actor, no_show_grace_minutes: int,
                         emergency_equipment: str) -> Team:
    """MOV-01, PRE-05: the line manager sets how long after a planned visit's start the
    buddy is told it has not started, and the team's emergency equipment list."""
    if not 5 <= no_show_grace_minutes <= 120:
        raise PracticeError("The grace before the buddy is told must be 5 to 120 minutes.")
    items = [line.strip()[:200] for line in (emergency_equipment or "").splitlines()
             if line.strip()]
    if len(items) > 30:
        raise PracticeError("Keep the emergency equipment list to 30 items at most.")
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        before = {"no_show_grace_minutes": team.no_show_grace_minutes,
                  "emergency_equipment": team.emergency_equipment}
        team.no_show_grace_minutes = no_show_grace_minutes
        team.emergency_equipment = "\n".join(items)
        team.save(update_fields=["no_show_grace_minutes", "emergency_equipment"])
        old, new = audit.diff(before, {"no_show_grace_minutes": no_show_grace_minutes,
                                       "emergency_equipment": team.emergency_equipment})
        if new:
            audit.record("team.practice", actor=actor, obj=team,
                         summary=f"Lone-working practice of {team.name} changed",
                         before=old, after=new)
    return team
