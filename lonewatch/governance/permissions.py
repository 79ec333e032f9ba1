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
    grant_self,
)
from lonewatch.governance.models import (
    AssuranceReport,
    Control,
    ReviewRequest,
    Risk,
    SecurityProvision,
    Sop,
    Submission,
    Theme,
    Threshold,
)
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
    reach=lambda r: Reach(None, r.team_id, r.directorate_id, r.organisation_id),
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

# RSK-04: a team's SOP. The line manager writes it, the directorate lead approves it
# ("act"); the security manager and director read every team's.
SOP = declare_kind("sop", actions=(VIEW, CHANGE, ACT))
# RSK-04: everyone reads the approved SOP of the team they are in. Read off their own
# Person (as "contact" is), so it is a grant about themselves: a member of staff asks for
# "my team's SOP", and the page or the API then shows that team's approved version only.
OWN_TEAM_SOP = declare_kind("own_team_sop", actions=(VIEW,))

declare_record(
    Sop, kind=SOP,
    reach=lambda s: Reach(None, s.team_id, s.team.directorate_id,
                          s.team.directorate.organisation_id),
    paths=Paths(organisation="team__directorate__organisation_id",
                directorate="team__directorate_id", team="team_id"))

grant({Role.LINE_MANAGER}, SOP, VIEW, CHANGE)
grant({Role.DIRECTORATE_LEAD}, SOP, VIEW, ACT)
grant({Role.SECURITY_MANAGER, Role.SECURITY_DIRECTOR}, SOP, VIEW)
grant_self(OWN_TEAM_SOP, VIEW)

# RSK-05: the governance dashboard. Seeing it reaches as far as the membership's scope:
# the trust for the security manager and the security management director, a directorate
# for its lead and its senior managers, a team for its line manager; a lone worker sees
# none of it. "change" is setting the trust's red and amber thresholds.
DASHBOARD = declare_kind("governance_dashboard", actions=(VIEW, CHANGE))
declare_record(Threshold, kind=DASHBOARD,
               reach=lambda t: Reach(None, None, None, t.organisation_id),
               paths=Paths(organisation="organisation_id"))
grant({Role.SECURITY_MANAGER}, DASHBOARD, VIEW, CHANGE)
grant({Role.SECURITY_DIRECTOR, Role.DIRECTORATE_LEAD, Role.SENIOR_MANAGER,
       Role.LINE_MANAGER}, DASHBOARD, VIEW)

# RSK-07: external security provision. The team's line manager or the security manager
# asks for it; an executive director signs it off ("act", never on their own request).
PROVISION = declare_kind("security_provision", actions=(VIEW, CHANGE, ACT))
declare_record(
    SecurityProvision, kind=PROVISION,
    reach=lambda p: Reach(None, p.team_id, p.team.directorate_id, p.organisation_id),
    paths=Paths(organisation="organisation_id", directorate="team__directorate_id",
                team="team_id"))
grant({Role.LINE_MANAGER, Role.SECURITY_MANAGER}, PROVISION, VIEW, CHANGE)
grant({Role.DIRECTORATE_LEAD, Role.SENIOR_MANAGER, Role.SECURITY_DIRECTOR}, PROVISION, VIEW)
grant({Role.EXECUTIVE}, PROVISION, VIEW, ACT)

# RSK-06: out-of-cycle review requests, read by whoever may read what they are about.
REVIEW_REQUEST = declare_kind("review_request", actions=(VIEW, CHANGE))
declare_record(
    ReviewRequest, kind=REVIEW_REQUEST,
    reach=lambda r: Reach(None, r.team_id or (r.risk.team_id if r.risk_id else None),
                          r.team.directorate_id if r.team_id else (
                              r.risk.directorate_id if r.risk_id else None),
                          r.organisation_id),
    paths=Paths(organisation="organisation_id", directorate="team__directorate_id",
                team="team_id"))
grant({Role.LINE_MANAGER, Role.DIRECTORATE_LEAD, Role.SENIOR_MANAGER, Role.SECURITY_MANAGER,
       Role.SECURITY_DIRECTOR}, REVIEW_REQUEST, VIEW)
grant({Role.SECURITY_MANAGER, Role.DIRECTORATE_LEAD, Role.LINE_MANAGER}, REVIEW_REQUEST,
      CHANGE)

# Board assurance: the security manager writes the half-yearly report against the Violence
# Prevention and Reduction Standard; the security management director, who takes it to
# the board, reads it and downloads it.
ASSURANCE = declare_kind("board_assurance", actions=(VIEW, CHANGE))
declare_record(AssuranceReport, kind=ASSURANCE,
               reach=lambda r: Reach(None, None, None, r.organisation_id),
               paths=Paths(organisation="organisation_id"))
grant({Role.SECURITY_MANAGER}, ASSURANCE, VIEW, CHANGE)
grant({Role.SECURITY_DIRECTOR}, ASSURANCE, VIEW)
