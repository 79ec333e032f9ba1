from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from lonewatch.org.importer import ImportFailed, import_people
from lonewatch.org.models import Organisation


class Command(BaseCommand):
    help = "Create or update people from an HR export (CSV). All or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--organisation", help="organisation name (created if new)")
        parser.add_argument("--create-teams", action="store_true",
                            help="create directorates and teams the file names")
        parser.add_argument("--invite", action="store_true",
                            help="email each person created (who has an email address) a "
                                 "link to set their password, once the import is saved")

    def handle(self, *args, file, organisation, create_teams, invite, **options):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text; export the CSV as UTF-8") from None
        try:
            with transaction.atomic():  # a failed import leaves no new organisation behind
                if organisation:
                    org, _ = Organisation.objects.get_or_create(name=organisation)
                else:
                    orgs = list(Organisation.objects.all()[:2])
                    if len(orgs) != 1:
                        raise CommandError("say which organisation with --organisation NAME")
                    org = orgs[0]
                result = import_people(text, organisation=org, create_teams=create_teams,
                                       invite=invite)
        except ImportFailed as failure:
            for error in failure.errors:
                self.stderr.write(error)
            raise CommandError(
                f"nothing was imported: {len(failure.errors)} problem(s) in {file}"
            ) from None
        for name in result.teams_created:
            self.stdout.write(f"created {name}")
        self.stdout.write(
            f"imported {file}: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.unchanged)} unchanged"
        )
        if invite:
            # The worker sends them: only now that the import is saved, and again if the
            # mail server is down for a moment.
            self.stdout.write(f"invited {len(result.invited)} of {len(result.created)} new "
                              "people (those with an email address); the worker emails them")
