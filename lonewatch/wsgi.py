import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lonewatch.settings")
django_application = get_wsgi_application()

from lonewatch.api.fastlane import CheckInFastLane  # noqa: E402 - needs Django set up

application = CheckInFastLane(django_application)
