from django.core.management.base import BaseCommand, CommandError

from lonewatch.accounts.actions import do_create_token
from lonewatch.accounts.models import User


class Command(BaseCommand):
    help = "Manage API tokens: `lonewatch token create USERNAME [--name LABEL]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="print a new API token for USERNAME")
        create.add_argument("username")
        create.add_argument("--name", default="Command-line token")

    def handle(self, *args, action, username, name, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user called {username!r}")
        token, raw = do_create_token(user, name=name, actor=None)
        self.stderr.write(f"Token '{token.name}' for {username}. It is shown once; keep it safe:")
        self.stdout.write(raw)
