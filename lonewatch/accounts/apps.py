from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "lonewatch.accounts"
    label = "accounts"
    verbose_name = "Accounts"
