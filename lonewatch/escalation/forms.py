"""The form an escalation point fills in to record what happened (ESC-02)."""

from django import forms

from lonewatch.escalation.models import Escalation

# A late check-in resolves an escalation by itself; nobody records it by hand.
RESOLVE_CHOICES = [(o.value, o.label) for o in Escalation.Outcome
                   if o != Escalation.Outcome.LATE_CHECK_IN]


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(label="What happened?", choices=RESOLVE_CHOICES,
                                widget=forms.RadioSelect,
                                error_messages={"required": "Choose what happened."})
    note = forms.CharField(label="What did you do? (optional)", required=False,
                           widget=forms.Textarea(attrs={"rows": 3}))
