from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "lonewatch.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # Register this app's due-row scanners with the worker, and write sign-ins,
        # failed sign-ins and lockouts into the audit trail (ORG-05, Q-SEC).
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from lonewatch.accounts import actions, scanners  # noqa: F401

        user_logged_in.connect(actions.record_sign_in, dispatch_uid="lonewatch.sign_in")
        user_login_failed.connect(actions.record_sign_in_failure,
                                  dispatch_uid="lonewatch.sign_in_failed")
        user_locked_out.connect(actions.record_lockout, dispatch_uid="lonewatch.locked_out")
