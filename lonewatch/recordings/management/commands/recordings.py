from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Recordings: `lonewatch recordings key` prints a new key for "
            "LONEWATCH_RECORDING_KEY (put it first in the list; keep the old keys after it "
            "while recordings they encrypted are kept).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("key", help="print a new recording encryption key")

    def handle(self, *args, action, **options):
        self.stdout.write(Fernet.generate_key().decode())
