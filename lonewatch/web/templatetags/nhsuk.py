"""Render Django form fields with the NHS.UK design system's markup."""

from django import forms, template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def nhsuk_field(field, hint=""):
    widget = field.field.widget
    error_id = f"{field.id_for_label}-error"
    hint_id = f"{field.id_for_label}-hint"
    described = " ".join(filter(None, [hint_id if hint else "", error_id if field.errors else ""]))
    errors = format_html(
        '<span class="nhsuk-error-message" id="{}"><span class="nhsuk-u-visually-hidden">'
        "Error:</span> {}</span>",
        error_id, " ".join(field.errors),
    ) if field.errors else ""
    hint_html = format_html('<div class="nhsuk-hint" id="{}">{}</div>', hint_id, hint) \
        if hint else ""
    group = "nhsuk-form-group" + (" nhsuk-form-group--error" if field.errors else "")
    if isinstance(widget, forms.RadioSelect):
        options = format_html_join(
            "", '<div class="nhsuk-radios__item"><input class="nhsuk-radios__input" id="{0}-{1}" '
                'name="{2}" type="radio" value="{3}"{4}><label class="nhsuk-label '
                'nhsuk-radios__label" for="{0}-{1}">{5}</label></div>',
            (
                (field.id_for_label, i, field.html_name, value,
                 mark_safe(" checked") if str(field.value()) == str(value) else "", label)
                for i, (value, label) in enumerate(field.field.choices)
            ),
        )
        return format_html(
            '<div class="{}"><fieldset class="nhsuk-fieldset"{}>'
            '<legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">{}</legend>'
            '{}{}<div class="nhsuk-radios">{}</div></fieldset></div>',
            group, format_html(' aria-describedby="{}"', described) if described else "",
            field.label, hint_html, errors, options,
        )
    if isinstance(widget, forms.Textarea):
        css = "nhsuk-textarea"
    elif isinstance(widget, forms.Select):
        css = "nhsuk-select"
    else:
        css = "nhsuk-input"
    if field.errors:
        css += f" {css}--error"
    attrs = {"class": css}
    if described:
        attrs["aria-describedby"] = described
    return format_html(
        '<div class="{}"><label class="nhsuk-label" for="{}">{}</label>{}{}{}</div>',
        group, field.id_for_label, field.label, hint_html, errors, field.as_widget(attrs=attrs),
    )


@register.inclusion_tag("web/_error_summary.html")
def nhsuk_error_summary(*forms_):
    items = []
    for form in forms_:
        if not form or not form.errors:
            continue
        for error in form.non_field_errors():
            items.append(("", error))
        for field in form:
            for error in field.errors:
                items.append((f"#{field.id_for_label}", error))
    return {"items": items}
