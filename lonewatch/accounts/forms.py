from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "The username or password is not right. Check them and try again.",
        "inactive": "This account has been switched off. Ask your administrator.",
    }


class TotpForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="6-digit code",
        error_messages={"invalid": "Enter the 6 digits shown in your authenticator app.",
                        "required": "Enter the 6 digits shown in your authenticator app."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self):
        return self.cleaned_data["code"].strip()


class ResetRequestForm(PasswordResetForm):
    """ORG-06: the address to send a set-password link to. The view hands it to
    accounts.actions.do_request_password_reset and the worker sends the email; the
    form's own ``save`` (which would send at once, while the person waits) is not used."""

    email = forms.EmailField(
        label="Email address", max_length=254,
        error_messages={"required": "Enter your email address.",
                        "invalid": "Enter an email address like name@nhs.net."},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )


class NewPasswordForm(SetPasswordForm):
    """The new password, checked by Django's password validators (at least 12
    characters, not a common one, not like the username)."""

    error_messages = {"password_mismatch": "The two passwords are not the same. Type them "
                                           "again."}
    new_password1 = forms.CharField(
        label="New password", strip=False,
        error_messages={"required": "Enter a new password."},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label="Type the new password again", strip=False,
        error_messages={"required": "Type the new password again."},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        # As Django's, but a password the validators refuse is marked on the first box,
        # where it was chosen, not on the one that repeats it.
        self.validate_passwords("new_password1", "new_password2")
        self.validate_password_for_user(self.user, "new_password1")
        return forms.Form.clean(self)
