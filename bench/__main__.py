"""`make bench`: every benchmark in turn, figures on stdout.

    python -m bench             all of them
    python -m bench checkins    one of them
"""

import importlib
import sys

ALL = ["checkins", "overdue", "memory", "alarms", "recordings", "precheck", "dashboard"]


def main() -> None:
    names = sys.argv[1:] or ALL
    for name in names:
        print(f"== {name} ==", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()
