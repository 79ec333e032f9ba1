"""``lonewatch flush`` empties every table, as Django's own does, timelines included.

Timeline lines are append-only in the database (ORG-05): deleting them, or TRUNCATE on
PostgreSQL, needs a purge permit. Emptying the whole database is the one deliberate act
that takes every timeline with it (the test runner does it between tests), so the
flush runs in one transaction that holds a permit for every table, and the permit
goes with it.
"""

from django.core.management.commands import flush
from django.db import transaction

from lonewatch.core.timeline import flush_permit


class Command(flush.Command):
    def handle(self, **options):
        with transaction.atomic(using=options["database"]), flush_permit():
            return super().handle(**options)
