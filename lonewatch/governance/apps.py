from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "lonewatch.governance"
    label = "governance"

    def ready(self):
        from lonewatch.core import hooks
        from lonewatch.governance import actions, figures, permissions, scanners  # noqa: F401

        hooks.review_requested.connect(actions.review_requested)
