"""Mobile numbers: an alert to a mistyped number reaches nobody, so check them."""

import re

import phonenumbers

DRAMA_RANGE = re.compile(r"^7700900\d{3}$")


def normalise_mobile(value: str) -> str:
    """A UK mobile number in E.164, or ValueError with a reason a person understands."""
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        raise ValueError(f"mobile {value!r} is not a phone number") from None
    if DRAMA_RANGE.match(str(number.national_number)) and number.country_code == 44:
        # Ofcom keeps 07700 900000-900999 for fiction: safe for demos and tests.
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"mobile {value!r} is not a valid number")
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
    ):
        raise ValueError(f"mobile {value!r} is not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
