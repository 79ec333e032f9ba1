from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "lonewatch.org"
    label = "org"
    verbose_name = "Organisation"

    def ready(self):
        # Declare this app's records, kinds and grants to the permission engine.
        from lonewatch.core import team_facts
        from lonewatch.org import permissions  # noqa: F401
        from lonewatch.org import team_facts as org_facts

        # RSK-04: what a team's SOP reads live from org.
        team_facts.register("buddies", title="Buddies and cover", order=20,
                            lines=org_facts.buddies)
        team_facts.register("equipment", order=30, lines=org_facts.equipment,
                            title="Emergency equipment, confirmed before each visit")
