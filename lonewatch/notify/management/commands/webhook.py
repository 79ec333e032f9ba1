import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator
from django.db import transaction

from lonewatch.core import audit
from lonewatch.notify import destinations
from lonewatch.notify.models import WebhookEndpoint
from lonewatch.org.models import Organisation


class Command(BaseCommand):
    help = ("Signed webhooks for Teams, Slack or an external alarm centre: "
            "`lonewatch webhook add NAME URL`, `list`, `remove ID`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add an endpoint and print its signing secret")
        add.add_argument("name")
        add.add_argument("url")
        add.add_argument("--organisation", help="organisation name (if there are several)")
        sub.add_parser("list", help="list endpoints")
        remove = sub.add_parser("remove", help="switch an endpoint off")
        remove.add_argument("id", type=int)

    def handle(self, *args, action, **options):
        if action == "list":
            for hook in WebhookEndpoint.objects.order_by("pk"):
                state = "on" if hook.active else "off"
                self.stdout.write(f"{hook.pk}  {state:<3}  {hook.name}  {hook.url}")
            return
        if action == "remove":
            hook = WebhookEndpoint.objects.filter(pk=options["id"]).first()
            if hook is None:
                raise CommandError(f"no webhook with id {options['id']}")
            with transaction.atomic():
                hook.active = False
                hook.save(update_fields=["active"])
                audit.record("webhook.remove", actor=None, obj=hook,
                             summary=f"Webhook {hook.name} switched off")
            self.stdout.write(f"webhook {hook.pk} switched off")
            return
        url = options["url"]
        try:
            URLValidator(schemes=["https", "http"])(url)
        except ValidationError:
            raise CommandError(f"{url!r} is not an https:// address") from None
        try:
            # Q-SEC: the worker will call this address; checked again at every send.
            destinations.check_webhook_url(url)
        except destinations.RefusedDestination as error:
            raise CommandError(f"Webhook not added. {error}") from None
        organisations = Organisation.objects.all()
        if options["organisation"]:
            organisations = organisations.filter(name=options["organisation"])
        found = list(organisations[:2])
        if len(found) != 1:
            raise CommandError("say which organisation with --organisation NAME")
        secret = secrets.token_urlsafe(32)
        with transaction.atomic():
            hook = WebhookEndpoint.objects.create(organisation=found[0], name=options["name"],
                                                  url=url, secret=secret)
            audit.record("webhook.add", actor=None, obj=hook,
                         summary=f"Webhook {hook.name} added for {url}")
        self.stderr.write(f"Webhook {hook.pk} added. Its signing secret (shown once; the "
                          "receiver checks X-Lonewatch-Signature with it):")
        self.stdout.write(secret)
