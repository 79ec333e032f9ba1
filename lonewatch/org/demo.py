"""The demo organisation: a fictional trust with every role, safe to load twice."""

from datetime import timedelta
from importlib import resources

from django.contrib.auth.hashers import make_password
from django.db import transaction

from lonewatch import clock
from lonewatch.accounts import actions as account_actions
from lonewatch.accounts.models import User
from lonewatch.org import actions
from lonewatch.org.importer import import_people
from lonewatch.org.models import Organisation, Person
from lonewatch.org.roles import PRIVILEGED_ROLES

ORGANISATION = "Fenland Community Health NHS Trust"
PASSWORD = "Lonewatch-demo-1"  # noqa: S105 - the demo's published password
PIN = "2468"  # every demo worker's check-out PIN

NEXT_OF_KIN = {
    "nina.nurse": ("Piotr Kowalski", "Husband", "+447700900911"),
    "ben.buddy": ("Emma Carter", "Wife", "+447700900912"),
    "mo.hassan": ("Aisha Hassan", "Sister", "+447700900913"),
    "liam.oconnor": ("Siobhan O'Connor", "Mother", "+447700900914"),
}
VEHICLES = {
    "nina.nurse": "Blue Vauxhall Corsa, AB12 CDE",
    "ben.buddy": "Silver Ford Fiesta, CD34 EFG",
    "mo.hassan": "Red Toyota Yaris, EF56 GHI",
}
BREAKS = "Lunch 12:30-13:00 at base; 15-minute break around 15:30."


def load() -> list[Person]:
    text = resources.files("lonewatch.org").joinpath("demo/people.csv").read_text()
    with transaction.atomic():
        organisation, _ = Organisation.objects.get_or_create(
            name=ORGANISATION, defaults={"short_name": "Fenland Health"}
        )
        import_people(text, organisation=organisation, actor=None, create_teams=True)
        people = list(Person.objects.filter(organisation=organisation)
                      .select_related("user", "team", "buddy").order_by("team__name", "full_name"))
        # Argon2 is slow on purpose: hash the demo password once and share it.
        shared_hash = make_password(PASSWORD)
        pin_hash = make_password(PIN)
        for person in people:
            user: User = person.user
            if not user.has_usable_password():
                user.password = shared_hash
                user.save(update_fields=["password"])
            if not person.pin_hash:
                person.pin_hash = pin_hash
                person.location_consent_at = clock.now()
                person.save(update_fields=["pin_hash", "location_consent_at"])
            if person.buddy_id and person.buddy_accepted_at is None:
                actions.do_accept_buddy(person, actor=person.buddy.user)
            username = user.username
            if username in NEXT_OF_KIN and not person.next_of_kin.exists():
                name, relationship, phone = NEXT_OF_KIN[username]
                actions.do_add_next_of_kin(person, actor=None, name=name,
                                           relationship=relationship, phone=phone)
            if username in VEHICLES and not person.vehicle_description:
                actions.do_update_contact(person, actor=None,
                                          vehicle_description=VEHICLES[username],
                                          known_breaks=BREAKS)
            if username == "tom.evans" and not person.unable_to_work_alone:
                actions.do_set_fitness(person, unable=True, actor=None,
                                       review=(clock.now() + timedelta(days=90)).date())
    open_enrolment_for_privileged(people)
    return people


def open_enrolment_for_privileged(people: list[Person]) -> list[Person]:
    """ORG-06: the demo's privileged accounts have no email that reaches anyone, so the
    demo opens enrolment for them (as an administrator would), each time it is loaded:
    they can set up an authenticator app at their first sign-in. Audited."""
    opened = []
    for person in people:
        user = person.user
        if not person.roles.filter(role__in=PRIVILEGED_ROLES).exists() or \
                account_actions.has_authenticator(user):
            continue
        waiting = account_actions.open_enrolment(user)
        if waiting is None or waiting.claimed_at is not None:
            # None waiting, or one a browser took and never finished: a fresh one.
            account_actions.do_open_enrolment(user, actor=None)
        opened.append(person)
    return opened
