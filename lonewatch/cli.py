"""The ``lonewatch`` command: Django's management commands under friendlier names.

    lonewatch migrate | serve | worker | run | demo | import-people FILE.csv
    lonewatch token create USERNAME [--name LABEL] [--privileged] | token list | audit verify
    lonewatch enrolment open USERNAME [--hours N]
"""

import os
import sys

ALIASES = {"import-people": "import_people"}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lonewatch.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "lonewatch"
    if len(argv) > 1:
        argv[1] = ALIASES.get(argv[1], argv[1])
    # lazy: Django is loaded once the settings module is chosen
    from django.core.management import execute_from_command_line  # lazy: see above

    execute_from_command_line(argv)
