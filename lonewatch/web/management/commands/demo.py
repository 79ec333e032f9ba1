from django.conf import settings
from django.core.management.base import BaseCommand

from lonewatch.escalation import demo as history_demo
from lonewatch.governance import demo as governance_demo
from lonewatch.markers import demo as markers_demo
from lonewatch.org import demo
from lonewatch.org.roles import PRIVILEGED_ROLES
from lonewatch.recordings import demo as recordings_demo


class Command(BaseCommand):
    help = ("Load the demo trust (about 35 people in every role, the security manager's "
            "alarm reviews in every state, the risk register, today's plans and the "
            "lone-working governance). Safe to run twice.")

    def handle(self, *args, **options):
        people = demo.load()
        cases = recordings_demo.load()
        markers = markers_demo.load()
        governance = governance_demo.load()
        history = history_demo.load()
        assurance = governance_demo.load_assurance()
        self.stdout.write(f"Demo organisation: {demo.ORGANISATION} ({len(people)} people)")
        self.stdout.write(f"Every demo login uses the password: {demo.PASSWORD}")
        self.stdout.write(f"Every demo worker's check-out PIN is: {demo.PIN}")
        self.stdout.write(f"Accounts marked * set up an authenticator app at first sign-in: "
                          f"the demo opens enrolment for them for "
                          f"{settings.ENROLMENT_OPEN_HOURS} hours (run `lonewatch demo` again "
                          "to reopen it).\n")
        for person in people:
            roles = sorted(person.roles.all(), key=lambda m: m.role)
            star = "*" if any(m.role in PRIVILEGED_ROLES for m in roles) else " "
            where = person.team.name if person.team else "organisation-wide"
            label = ", ".join(m.get_role_display() for m in roles)
            self.stdout.write(f" {star} {person.username:<18} {person.full_name:<20} "
                              f"{where:<30} {label}")
        if markers:
            self.stdout.write(f"\nThe risk register has {markers} demo markers, one of every "
                              "category (some past their review date): sign in as "
                              "leslie.lsms, then Risk markers. nina.nurse has visits planned "
                              "for today; the first is high risk and needs a colleague.")
        if governance:
            self.stdout.write(f"\nLone-working governance: {governance} teams' activities "
                              "(accepted, returned, and a new version waiting for "
                              "claire.director), the trust's lone-working risk with its "
                              "history, SOPs in every state (one waiting for "
                              "claire.director), a dashboard in every colour and a security "
                              "provision waiting for george.coo's sign-off.")
        if history:
            self.stdout.write(f"\nThe last quarter's lone working: {history} visits that have "
                              "ended, a few missed check-ins escalated and resolved, and "
                              "high-risk visits, for the dashboard's live figures.")
        if assurance:
            self.stdout.write("\nBoard assurance: last half-year's report, made final by "
                              "leslie.lsms, for anita.smd to read and download for the "
                              "board pack.")
        if cases:
            self.stdout.write(f"\nThe security manager's review queue has {cases} demo alarm "
                              "cases, one in every state: sign in as leslie.lsms, then "
                              "Reviews.")
