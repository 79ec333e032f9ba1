from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "lonewatch.core"
    label = "core"
    verbose_name = "Lonewatch core"
