"""What letters declares to the permission engine: the organisation's letter templates,
which the security manager edits (REC-05). A letter itself is read through its case."""

from lonewatch.core.permissions import (
               CHANGE,
               VIEW,
               Paths,
               Reach,
               declare_kind,
               declare_record,
               grant,
)
from lonewatch.letters.models import LetterTemplate
from lonewatch.org.roles import Role

LETTER_TEMPLATE = declare_kind("letter_template", actions=(VIEW, CHANGE))

declare_record(LetterTemplate, kind=LETTER_TEMPLATE,
               reach=lambda t: Reach(None, None, None, t.organisation_id),
               paths=Paths(organisation="organisation_id"))

grant({Role.SECURITY_MANAGER}, LETTER_TEMPLATE, VIEW, CHANGE)
