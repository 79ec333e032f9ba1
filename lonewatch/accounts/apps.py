from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "lonewatch.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # Register this app's due-row scanners with the worker.
        from lonewatch.accounts import scanners  # noqa: F401
