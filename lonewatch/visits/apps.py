from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "lonewatch.visits"
    label = "visits"

    def ready(self):
        # Register this app's due-row scanners with the worker, its permission declarations
        # with the engine and its hook handlers with the lower layers (docs/architecture.md
        # lists them all).
        from lonewatch.core import team_facts
        from lonewatch.notify.hooks import delivery_outcomes
        from lonewatch.org import hooks as org_hooks
        from lonewatch.visits import actions, permissions, scanners  # noqa: F401
        from lonewatch.visits import team_facts as visits_facts

        delivery_outcomes.connect(actions.record_delivery_outcomes)
        org_hooks.fitness_block_recorded.connect(actions.tell_line_manager_of_block)
        # RSK-04: what a team's SOP reads live from this app.
        team_facts.register("check_ins", title="Check-in intervals", order=40,
                            lines=visits_facts.check_in_intervals)
