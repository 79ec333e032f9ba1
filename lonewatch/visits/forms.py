from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from lonewatch import clock
from lonewatch.visits.actions import SessionError
from lonewatch.visits.models import Companion, Session, Venue

DURATIONS = [(m, label) for m, label in (
    (30, "30 minutes"), (60, "1 hour"), (90, "1 hour 30 minutes"), (120, "2 hours"),
    (180, "3 hours"), (240, "4 hours"), (480, "8 hours"), (720, "12 hours"))]
INTERVALS = [(5, "Every 5 minutes"), (15, "Every 15 minutes"), (30, "Every 30 minutes"),
             (45, "Every 45 minutes"), (60, "Every hour"), (120, "Every 2 hours")]
LATE = [(15, "15 minutes"), (30, "30 minutes"), (60, "1 hour"), (120, "2 hours")]


def date_input() -> forms.DateInput:
    """A phone's date picker: it reads and writes 2026-11-30 whatever the locale."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _minutes_choices(choices):
    low = settings.MIN_CHECKIN_INTERVAL_SECONDS
    return [(m, label) for m, label in choices if m * 60 >= low]


class StartForm(forms.Form):
    kind = forms.ChoiceField(label="What are you doing?", choices=Session.Kind.choices,
                             widget=forms.RadioSelect, initial=Session.Kind.VISIT)
    address = forms.CharField(label="Where?", max_length=300,
                              error_messages={"required": "Enter the address you are going to."})
    postcode = forms.CharField(label="Postcode", max_length=10, required=False)
    service_user_ref = forms.CharField(label="Patient or service user reference (optional)",
                                       max_length=60, required=False)
    duration = forms.TypedChoiceField(label="How long will it take?", choices=DURATIONS,
                                      coerce=int, initial=60)
    interval = forms.TypedChoiceField(label="How often will you check in?", coerce=int,
                                      choices=INTERVALS, initial=30)
    travel_mode = forms.ChoiceField(label="How are you travelling?",
                                    choices=Session.Travel.choices, initial=Session.Travel.CAR)
    vehicle = forms.CharField(label="Vehicle", max_length=200, required=False)
    cover_buddy = forms.TypedChoiceField(label="Cover buddy (only if your buddy is away)",
                                         required=False, coerce=int, empty_value=None)

    def __init__(self, *args, covers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["interval"].choices = _minutes_choices(INTERVALS)
        self.fields["cover_buddy"].choices = [("", "No cover needed")] + [
            (p.pk, p.full_name) for p in covers]

    def session_values(self) -> dict:
        data = self.cleaned_data
        now = clock.now()
        return {
            "kind": data["kind"], "address": data["address"], "postcode": data["postcode"],
            "service_user_ref": data["service_user_ref"], "planned_start": now,
            "planned_end": now + timedelta(minutes=data["duration"]),
            "interval_seconds": data["interval"] * 60, "travel_mode": data["travel_mode"],
            "vehicle": data["vehicle"],
        }


class ExtendForm(forms.Form):
    minutes = forms.TypedChoiceField(label="How much longer do you need?", coerce=int,
                                     choices=LATE, initial=30)
    reason = forms.CharField(label="Why are you running late?", max_length=300,
                             error_messages={"required": "Say why you are running late."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["minutes"].choices = _minutes_choices(LATE)


class EndForm(forms.Form):
    pin = forms.CharField(label="Your check-out PIN", max_length=8,
                          widget=forms.PasswordInput(attrs={"inputmode": "numeric",
                                                            "autocomplete": "off"}),
                          error_messages={"required": "Enter your PIN to check out."})


class PinForm(forms.Form):
    pin = forms.RegexField(label="New PIN (4 to 8 digits)", regex=r"^\d{4,8}$",
                           widget=forms.PasswordInput(attrs={"inputmode": "numeric",
                                                             "autocomplete": "new-password"}),
                           error_messages={"invalid": "Your PIN must be 4 to 8 digits.",
                                           "required": "Enter a PIN of 4 to 8 digits."})




class PlanForm(forms.Form):
    """MOV-01: a visit planned ahead, on the page."""

    address = forms.CharField(label="Where is the visit?", max_length=300,
                              error_messages={"required": "Enter the address of the visit."})
    postcode = forms.CharField(label="Postcode", max_length=10, required=False)
    nhs_number = forms.CharField(label="NHS number of the person you visit (optional)",
                                 max_length=20, required=False)
    service_user_ref = forms.CharField(label="Or their local reference (optional)",
                                       max_length=60, required=False)
    day = forms.DateField(label="Day", widget=date_input(),
                          error_messages={"required": "Enter the day of the visit.",
                                          "invalid": "Enter a real date."})
    start = forms.TimeField(label="Start time", widget=forms.TimeInput(attrs={"type": "time"}),
                            error_messages={"required": "Enter when the visit starts.",
                                            "invalid": "Enter a time such as 14:30."})
    duration = forms.TypedChoiceField(label="How long will it take?", choices=DURATIONS,
                                      coerce=int, initial=60)
    travel_mode = forms.ChoiceField(label="How are you travelling?",
                                    choices=Session.Travel.choices, initial=Session.Travel.CAR)
    venue = forms.ChoiceField(label="Where will you meet?", choices=Venue.choices,
                              initial=Venue.HOME, widget=forms.RadioSelect)
    companion = forms.ChoiceField(label="Is anyone going with you?",
                                  choices=[("", "No, I am going alone")] + Companion.choices,
                                  required=False)
    companion_name = forms.CharField(label="Their name, or the police reference",
                                     max_length=200, required=False)

    def visit_values(self) -> dict:
        data = self.cleaned_data
        start = timezone.make_aware(datetime.combine(data["day"], data["start"]))
        return {"address": data["address"], "postcode": data["postcode"],
                "nhs_number": data["nhs_number"], "service_user_ref": data["service_user_ref"],
                "planned_start": start,
                "planned_end": start + timedelta(minutes=data["duration"]),
                "travel_mode": data["travel_mode"], "venue": data["venue"],
                "companion": data["companion"], "companion_name": data["companion_name"]}


class MoveForm(forms.Form):
    day = forms.DateField(label="New day", widget=date_input(),
                          error_messages={"required": "Enter the new day.",
                                          "invalid": "Enter a real date."})
    start = forms.TimeField(label="New start time",
                            widget=forms.TimeInput(attrs={"type": "time"}),
                            error_messages={"required": "Enter the new start time.",
                                            "invalid": "Enter a time such as 14:30."})
    venue = forms.ChoiceField(label="Where will you meet?", choices=Venue.choices,
                              widget=forms.RadioSelect)
    address = forms.CharField(label="Address (change it for a neutral or secure place)",
                              max_length=300,
                              error_messages={"required": "Enter the address of the visit."})

    def move_values(self) -> dict:
        data = self.cleaned_data
        start = timezone.make_aware(datetime.combine(data["day"], data["start"]))
        return {"planned_start": start, "venue": data["venue"], "address": data["address"]}


class CompanyForm(forms.Form):
    companion = forms.ChoiceField(label="Who goes with you?",
                                  choices=[("", "Nobody: I am going alone")] + Companion.choices,
                                  required=False)
    companion_name = forms.CharField(label="Their name, or the police reference",
                                     max_length=200, required=False)


class ExceptionForm(forms.Form):
    reason = forms.CharField(label="Why may this visit go ahead alone?", max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": "Write why this visit may go ahead "
                                                         "alone."})


def read_coordinate(value):
    """A latitude, longitude or accuracy sent by the phone's page, or None."""
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        raise SessionError("The location from your phone could not be read.") from None
