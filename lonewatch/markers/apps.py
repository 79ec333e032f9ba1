from django.apps import AppConfig


class MarkersConfig(AppConfig):
    name = "lonewatch.markers"
    label = "markers"

    def ready(self):
        from lonewatch.markers import permissions  # noqa: F401
