"""Render Django form fields with the NHS.UK design system's markup."""

from django import forms, template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


def _field_id(field) -> str:
    """The id of the field's input; for radios, of the first one. Django gives a radio
    group no id for its label, so ``id_for_label`` alone would leave every group on a
    page with the same ids ("-0", "-hint") and its error summary link pointing nowhere."""
    return field.id_for_label or field.auto_id


def _radio_id(field_id: str, index: int) -> str:
    # As the NHS.UK frontend's radios: the first carries the group's id, which the error
    # summary links to; the others are numbered from 2.
    return field_id if index == 0 else f"{field_id}-{index + 1}"


@register.simple_tag
def nhsuk_field(field, hint=""):
    widget = field.field.widget
    field_id = _field_id(field)
    error_id = f"{field_id}-error"
    hint_id = f"{field_id}-hint"
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
            "", '<div class="nhsuk-radios__item"><input class="nhsuk-radios__input" id="{0}" '
                'name="{1}" type="radio" value="{2}"{3}><label class="nhsuk-label '
                'nhsuk-radios__label" for="{0}">{4}</label></div>',
            (
                (_radio_id(field_id, i), field.html_name, value,
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
        group, field_id, field.label, hint_html, errors, field.as_widget(attrs=attrs),
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
                items.append((f"#{_field_id(field)}", error))
    return {"items": items}
