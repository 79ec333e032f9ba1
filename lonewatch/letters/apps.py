from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "lonewatch.letters"
    label = "letters"

    def ready(self):
        from lonewatch.letters import permissions  # noqa: F401
