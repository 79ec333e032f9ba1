"""What org declares to the permission engine: people, teams, directorates and the
organisation, the kinds of record read off them, and who may do what (ORG-02, ORG-03)."""

from django.db.models import Q

from lonewatch.core.permissions import (
    CHANGE,
    VIEW,
    Paths,
    Reach,
    at,
    declare_kind,
    declare_record,
    declare_relation,
    grant,
    grant_relation,
    grant_self,
)
from lonewatch.org.models import Directorate, Organisation, Person, Team
from lonewatch.org.roles import EVERYDAY_ROLES, Role

R = Role

# Kinds of record about a person. "contact" is mobile, email, vehicle and breaks;
# "next_of_kin" is sensitive and every read is audited; "fitness" is occupational
# health's unable-to-work-alone mark; "absence" is leave, sickness and off duty (a buddy
# who is away cannot watch a session, BUD-02).
PERSON = declare_kind("person", actions=(VIEW, CHANGE))
CONTACT = declare_kind("contact", actions=(VIEW, CHANGE))
NEXT_OF_KIN = declare_kind("next_of_kin", actions=(VIEW, CHANGE))
FITNESS = declare_kind("fitness", actions=(VIEW, CHANGE))
ROLES = declare_kind("roles", actions=(VIEW, CHANGE))
ABSENCE = declare_kind("absence", actions=(VIEW, CHANGE))
TEAM = declare_kind("team", actions=(VIEW, CHANGE))
DIRECTORATE = declare_kind("directorate", actions=(VIEW, CHANGE))
# MOV-01, PRE-05: how a team works alone: its no-show grace and its emergency equipment,
# kept by its line manager.
TEAM_PRACTICE = declare_kind("team_practice", actions=(VIEW, CHANGE))
# ORG-06: a person's second factor; "change" is opening enrolment of a first
# authenticator app for them.
SECOND_FACTOR = declare_kind("second_factor", actions=(CHANGE,))
# The organisation's audit trail.
AUDIT = declare_kind("audit", actions=(VIEW,))

declare_record(
    Person, kind=PERSON,
    reach=lambda p: Reach(p.pk, p.team_id, p.directorate_id, p.organisation_id),
    paths=Paths(organisation="organisation_id", directorate="team__directorate_id",
                team="team_id", person="pk", worker=""))
declare_record(
    Team, kind=TEAM,
    reach=lambda t: Reach(None, t.pk, t.directorate_id, t.directorate.organisation_id),
    paths=Paths(organisation="directorate__organisation_id", directorate="directorate_id",
                team="pk"))
declare_record(
    Directorate, kind=DIRECTORATE,
    reach=lambda d: Reach(None, None, d.pk, d.organisation_id),
    paths=Paths(organisation="organisation_id", directorate="pk"))
# The organisation itself: only memberships scoped to the whole organisation reach it.
declare_record(
    Organisation, kind=DIRECTORATE,
    reach=lambda o: Reach(None, None, None, o.pk), paths=Paths(organisation="pk"))

grant(EVERYDAY_ROLES | {R.INDEPENDENT_CLINICIAN}, PERSON, VIEW)
grant(EVERYDAY_ROLES, TEAM, VIEW)
# ORG-03: contact details, vehicle and known breaks are shown to the buddy and the
# escalation points only while needed (the relations that grant them are declared by
# visits, escalation and alarms). The alarm centre needs them at all times, to act the
# moment an alarm comes in; administrators keep the records.
grant({R.ALARM_OPERATOR, R.ADMINISTRATOR}, CONTACT, VIEW)
grant({R.LINE_MANAGER, R.SENIOR_MANAGER, R.DIRECTORATE_LEAD, R.OCCUPATIONAL_HEALTH,
       R.ADMINISTRATOR}, FITNESS, VIEW)
grant({R.OCCUPATIONAL_HEALTH}, FITNESS, CHANGE)
grant({R.LINE_MANAGER, R.SENIOR_MANAGER, R.ADMINISTRATOR}, ABSENCE, VIEW, CHANGE)
grant({R.SENIOR_MANAGER, R.DIRECTORATE_LEAD, R.SECURITY_MANAGER, R.SECURITY_DIRECTOR,
       R.ADMINISTRATOR}, DIRECTORATE, VIEW)
grant({R.SECURITY_MANAGER, R.SECURITY_DIRECTOR, R.ADMINISTRATOR}, AUDIT, VIEW)
grant({R.ADMINISTRATOR}, PERSON, CHANGE)
grant({R.ADMINISTRATOR}, CONTACT, CHANGE)
grant({R.ADMINISTRATOR}, NEXT_OF_KIN, VIEW, CHANGE)
grant({R.ADMINISTRATOR}, ROLES, VIEW, CHANGE)
grant({R.ADMINISTRATOR}, TEAM, CHANGE)
grant(EVERYDAY_ROLES, TEAM_PRACTICE, VIEW)
grant({R.LINE_MANAGER, R.ADMINISTRATOR}, TEAM_PRACTICE, CHANGE)
grant({R.ADMINISTRATOR}, DIRECTORATE, CHANGE)
grant({R.ADMINISTRATOR}, SECOND_FACTOR, CHANGE)

# Everyone's own record, whatever their roles.
grant_self(PERSON, VIEW)
grant_self(CONTACT, VIEW, CHANGE)
grant_self(NEXT_OF_KIN, VIEW, CHANGE)
grant_self(FITNESS, VIEW)
grant_self(ROLES, VIEW)
grant_self(ABSENCE, VIEW, CHANGE)


# A line manager's direct reports, even outside the manager's own team.
LINE_REPORT = "line_report"
declare_relation(
    LINE_REPORT,
    holds=lambda user, person, worker_id, obj: Person.objects.filter(
        pk=worker_id, line_manager_id=person.pk).exists(),
    where=lambda user, person, record, need: Q(**{at(record, "line_manager_id"): person.pk}))
grant_relation(LINE_REPORT, PERSON, VIEW)
grant_relation(LINE_REPORT, FITNESS, VIEW)
grant_relation(LINE_REPORT, ABSENCE, VIEW, CHANGE)
