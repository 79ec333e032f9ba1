from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from lonewatch.accounts.actions import TokenError, do_create_token
from lonewatch.accounts.models import ApiToken, User


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


class Command(BaseCommand):
    help = ("Manage API tokens: `lonewatch token create USERNAME [--name LABEL] "
            "[--privileged]`, `lonewatch token list [USERNAME]`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="print a new API token for USERNAME")
        create.add_argument("username")
        create.add_argument("--name", default="Command-line token")
        # Q-SEC: without it, a token of a privileged account acts on its owner's own
        # record only; with it, the token carries the privileged roles and expires.
        create.add_argument("--privileged", action="store_true",
                            help="let the token act with the user's privileged roles "
                                 "(security manager, alarm-centre operator, administrator); "
                                 "it expires after LONEWATCH_PRIVILEGED_TOKEN_DAYS")
        listing = sub.add_parser("list", help="list tokens (of USERNAME, or everyone's)")
        listing.add_argument("username", nargs="?")

    def handle(self, *args, action, username, **options):
        if action == "list":
            return self._list(username)
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user called {username!r}")
        try:
            token, raw = do_create_token(user, name=options["name"], actor=None,
                                         privileged=options["privileged"])
        except TokenError as error:
            raise CommandError(str(error)) from None
        if token.privileged:
            self.stderr.write(f"Privileged token '{token.name}' for {username}, until "
                              f"{_when(token.expires_at)}. It is shown once; keep it safe:")
        else:
            self.stderr.write(f"Token '{token.name}' for {username}. It is shown once; keep "
                              "it safe:")
        self.stdout.write(raw)

    def _list(self, username):
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
        if username:
            if not User.objects.filter(username=username).exists():
                raise CommandError(f"no user called {username!r}")
            tokens = tokens.filter(user__username=username)
        self.stdout.write(f"{'user':<18} {'prefix':<11} {'rights':<10} {'created':<16} "
                          f"{'last used':<16} {'expires':<16} {'state':<8} name")
        for t in tokens:
            state = "revoked" if t.revoked_at else "expired" if t.expired else "active"
            self.stdout.write(
                f"{t.user.username:<18} {t.prefix:<11} "
                f"{'privileged' if t.privileged else 'own':<10} {_when(t.created_at):<16} "
                f"{_when(t.last_used_at):<16} {_when(t.expires_at):<16} {state:<8} {t.name}")
