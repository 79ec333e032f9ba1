import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lonewatch.settings")
django_application = get_wsgi_application()

from lonewatch.api.fastlane import CheckInFastLane  # noqa: E402 - needs Django set up
from lonewatch.core import shutdown  # noqa: E402 - needs Django set up

application = CheckInFastLane(django_application)

# Q-REL: a server process being stopped ends its open event streams at once, instead
# of being killed with them after the server's grace period (lonewatch/core/shutdown.py).
shutdown.watch_signals()
