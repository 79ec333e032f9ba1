"""What governance declares to the permission engine (RSK-01 … RSK-03). Team managers
keep their own team's activities and local risks; directorate leads review their
directorate's; the security manager and the security management director see the
trust, and the security manager keeps the themes, the controls and the organisational
risk."""

from lonewatch.core.permissions import (
    ACT,
    CHANGE,
    VIEW,
    Paths,
    Reach,
    declare_kind,
    declare_record,
    grant,
)
from lonewatch.governance.models import Control, Risk, Submission, Theme
from lonewatch.org.roles import Role

# RSK-01: a team's activities and their risks; "act" is the directorate's review.
ACTIVITIES = declare_kind("lone_working_activities", actions=(VIEW, CHANGE, ACT))
# RSK-01, RSK-02: the trust's themes and controls catalogue, which every team reads.
CATALOGUE = declare_kind("risk_catalogue", actions=(VIEW, CHANGE),
                         organisation_wide=(VIEW,))
# RSK-03: the risk register.
REGISTER = declare_kind("risk_register", actions=(VIEW, CHANGE), organisation_wide=(VIEW,))

declare_record(
    Submission, kind=ACTIVITIES,
    reach=lambda s: Reach(None, s.team_id, s.team.directorate_id,
                          s.team.directorate.organisation_id),
    paths=Paths(organisation="team__directorate__organisation_id",
                directorate="team__directorate_id", team="team_id"))
for model in (Theme, Control):
    declare_record(model, kind=CATALOGUE,
                   reach=lambda t: Reach(None, None, None, t.organisation_id),
                   paths=Paths(organisation="organisation_id"))
declare_record(
    Risk, kind=REGISTER,
    reach=lambda r: Reach(None, r.team_id, r.directorate_id or (
        r.team.directorate_id if r.team_id else None), r.organisation_id),
    paths=Paths(organisation="organisation_id", directorate="directorate_id",
                team="team_id"))

grant({Role.LINE_MANAGER}, ACTIVITIES, VIEW, CHANGE)
grant({Role.DIRECTORATE_LEAD}, ACTIVITIES, VIEW, ACT)
grant({Role.SENIOR_MANAGER, Role.SECURITY_MANAGER, Role.SECURITY_DIRECTOR}, ACTIVITIES,
      VIEW)
grant({Role.LINE_MANAGER, Role.SENIOR_MANAGER, Role.DIRECTORATE_LEAD,
       Role.SECURITY_DIRECTOR}, CATALOGUE, VIEW)
grant({Role.SECURITY_MANAGER}, CATALOGUE, VIEW, CHANGE)
grant({Role.LINE_MANAGER, Role.DIRECTORATE_LEAD, Role.SECURITY_MANAGER}, REGISTER, VIEW,
      CHANGE)
grant({Role.SENIOR_MANAGER, Role.SECURITY_DIRECTOR}, REGISTER, VIEW)
