from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "lonewatch.worker"
    label = "worker"
    verbose_name = "Background worker"
