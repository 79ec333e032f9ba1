from django import forms

from lonewatch import clock
from lonewatch.org.phone import normalise_mobile


def _mobile(value: str) -> str:
    try:
        return normalise_mobile(value)
    except ValueError as error:
        raise forms.ValidationError(
            f"{str(error).capitalize()}. Enter a UK mobile number, like 07700 900123."
        ) from None


class ContactForm(forms.Form):
    mobile = forms.CharField(
        label="Mobile number", max_length=20,
        error_messages={"required": "Enter your mobile number, so your buddy can reach you."},
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    email = forms.EmailField(
        label="Work email", required=False,
        error_messages={"invalid": "Enter an email address like name@nhs.net."},
    )
    vehicle_description = forms.CharField(
        label="Vehicle (colour, make, model, registration)", max_length=200, required=False,
    )
    description = forms.CharField(
        label="How to recognise you", max_length=300, required=False,
    )
    known_breaks = forms.CharField(
        label="Usual breaks and rest periods", required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_mobile(self):
        return _mobile(self.cleaned_data["mobile"])


class NextOfKinForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=200,
                           error_messages={"required": "Enter their full name."})
    relationship = forms.CharField(label="Relationship to you", max_length=100,
                                   error_messages={"required": "Enter how they are related to "
                                                               "you, like wife or father."})
    phone = forms.CharField(label="Phone number", max_length=20,
                            error_messages={"required": "Enter their phone number."})

    def __init__(self, *args, **kwargs):
        # The profile page shows this form beside the token form, and both have a "name":
        # ids of their own keep each label and error summary link on its own field.
        kwargs.setdefault("auto_id", "id_kin_%s")
        super().__init__(*args, **kwargs)

    def clean_phone(self):
        import phonenumbers  # lazy: its metadata is large; only this form needs it

        raw = self.cleaned_data["phone"]
        try:
            return _mobile(raw)
        except forms.ValidationError:
            pass
        try:
            number = phonenumbers.parse(raw, "GB")
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
        raise forms.ValidationError("Enter a phone number, like 01632 960123 or 07700 900123.")


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Which device is this token for?", max_length=100,
        error_messages={"required": "Give the token a name, like 'Nina's work phone'."},
    )
    # Q-SEC: offered to privileged roles only, after their second factor.
    privileged = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_token_%s")  # beside NextOfKinForm: see there
        super().__init__(*args, **kwargs)


class FitnessForm(forms.Form):
    unable_to_work_alone = forms.TypedChoiceField(
        label="Can this person work alone?",
        choices=[("no", "Yes, they can work alone"),
                 ("yes", "No, they must not work alone")],
        coerce=lambda v: v == "yes", widget=forms.RadioSelect,
    )
    review = forms.DateField(
        label="Review date", required=False,
        # A date input shows its value only as YYYY-MM-DD, whatever the locale.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a real date, like 31/03/2027."},
    )

    def clean(self):
        data = super().clean()
        if data.get("unable_to_work_alone"):
            review = data.get("review")
            if review is None:
                self.add_error("review", "Enter the date when this will be reviewed.")
            elif review <= clock.now().date():
                self.add_error("review", "The review date must be in the future.")
        return data


class AbsenceForm(forms.Form):
    reason = forms.ChoiceField(label="Why are they away?", choices=[
        ("leave", "On leave"), ("sick", "Off sick"), ("off_duty", "Off duty")])
    starts_at = forms.DateTimeField(
        label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M"],
        error_messages={"required": "Enter when the absence starts.",
                        "invalid": "Enter a date and time, like 01/12/2026 09:00."})
    ends_at = forms.DateTimeField(
        label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M"],
        error_messages={"required": "Enter when the absence ends.",
                        "invalid": "Enter a date and time, like 05/12/2026 17:00."})

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The end must be after the start.")
        return data
