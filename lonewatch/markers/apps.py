from django.apps import AppConfig


class MarkersConfig(AppConfig):
    name = "lonewatch.markers"
    label = "markers"

    def ready(self):
        from lonewatch.markers import actions, figures, permissions, scanners  # noqa: F401
        from lonewatch.visits import hooks as visits

        visits.visit_risk.connect(actions.visit_risk)
