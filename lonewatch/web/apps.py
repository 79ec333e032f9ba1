from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "lonewatch.web"
    label = "web"
    verbose_name = "Web pages"
