from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from lonewatch.accounts.actions import EnrolmentError, do_open_enrolment
from lonewatch.accounts.models import User


class Command(BaseCommand):
    help = ("Second-factor enrolment (ORG-06): `lonewatch enrolment open USERNAME "
            "[--hours N]` lets USERNAME set up a first authenticator app after signing in "
            "with their password, for N hours. Recorded in the audit trail.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        opening = sub.add_parser("open", help="open enrolment for USERNAME")
        opening.add_argument("username")
        opening.add_argument("--hours", type=int, default=None,
                             help="how long it stays open (default "
                                  "LONEWATCH_ENROLMENT_OPEN_HOURS)")

    def handle(self, *args, action, username, hours, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user called {username!r}")
        try:
            grant = do_open_enrolment(user, actor=None, hours=hours)
        except EnrolmentError as error:
            raise CommandError(str(error)) from None
        until = timezone.localtime(grant.expires_at).strftime("%Y-%m-%d %H:%M")
        self.stdout.write(f"Enrolment open for {username} until {until}: they sign in with "
                          "their password and set up their authenticator app.")
