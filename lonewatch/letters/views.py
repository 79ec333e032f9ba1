"""The security manager edits the trust's letter templates (REC-05)."""

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from lonewatch.core import permissions as perms
from lonewatch.letters import actions
from lonewatch.letters.models import Purpose
from lonewatch.letters.permissions import LETTER_TEMPLATE
from lonewatch.org.access import access_me


def templates(request):
    if not perms.can_anywhere(request.user, perms.CHANGE, LETTER_TEMPLATE):
        raise PermissionDenied("Only the security manager edits the letter templates.")
    organisation = access_me(request.user).organisation
    errors, edited = [], {}
    if request.method == "POST":
        purpose = request.POST.get("purpose", "")
        edited = {name: request.POST.get(name, "") for name in
                  ("title", "sender", "body", "signature")}
        try:
            actions.do_save_template(organisation, purpose, actor=request.user, **edited)
        except actions.LetterError as error:
            errors = [(f"#{purpose}-{error.field}", str(error))]
        else:
            flash.success(request, f"The {Purpose(purpose).label.lower()} template is saved.")
            return redirect("letter_templates")
    forms = []
    for value, label in Purpose.choices:
        template = actions.template_for(organisation, value)
        if edited and request.POST.get("purpose") == value:
            for name, text in edited.items():
                setattr(template, name, text)
        forms.append({"purpose": value, "label": label, "template": template})
    return render(request, "letters/templates.html", {
        "forms": forms, "errors": errors, "placeholders": actions.PLACEHOLDERS.items()})
