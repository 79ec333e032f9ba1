from lonewatch.alarms.permissions import ALARM
from lonewatch.core import permissions as perms
from lonewatch.governance.permissions import (
    ASSURANCE,
    CATALOGUE,
    DASHBOARD,
    PROVISION,
    REGISTER,
)
from lonewatch.markers.permissions import MARKER
from lonewatch.org.permissions import AUDIT, PERSON, TEAM
from lonewatch.org.roles import Role
from lonewatch.recordings.permissions import REVIEW
from lonewatch.visits.permissions import SESSION


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    person = getattr(user, "person", None)
    items = [("home", "Home")]
    if person is not None:
        roles = perms.roles_of(user)
        # RSK-04: everyone in a team reads its approved SOP: a lone worker next to My
        # day, anyone else after the pages of their roles.
        team_sop = [("my_sop", "Team SOP")] if person.team_id else []
        if Role.LONE_WORKER in roles:
            items.append(("my_day", "My day"))
            items += team_sop
            team_sop = []
        if Role.BUDDY in roles:
            items.append(("buddy", "Buddy"))
        if perms.can_anywhere(user, perms.ACT, ALARM):
            items.append(("console", "Console"))
        if perms.can_anywhere(user, perms.VIEW, SESSION):
            items.append(("board", "Board"))
        if perms.can_anywhere(user, perms.VIEW, ALARM):
            items.append(("alarm_report", "Alarm figures"))
        if perms.can_anywhere(user, perms.VIEW, PERSON):
            items.append(("people", "People"))
        if perms.can_anywhere(user, perms.VIEW, TEAM):
            items.append(("teams", "Teams"))
        if perms.can_anywhere(user, perms.VIEW, MARKER):
            items.append(("markers", "Risk markers"))
        if perms.can_anywhere(user, perms.VIEW, REVIEW):
            items.append(("review_queue", "Reviews"))
        if perms.can_anywhere(user, perms.VIEW, DASHBOARD):
            items.append(("dashboard", "Dashboard"))
        if perms.can_anywhere(user, perms.VIEW, REGISTER):
            items.append(("register", "Risk register"))
        if perms.can_anywhere(user, perms.CHANGE, CATALOGUE):
            items.append(("themes", "Themes and controls"))
        if perms.can_anywhere(user, perms.VIEW, ASSURANCE):
            items.append(("assurance", "Board assurance"))
        if perms.can_anywhere(user, perms.VIEW, PROVISION):
            items.append(("provisions", "Security provision"))
        if perms.can_anywhere(user, perms.VIEW, AUDIT):
            items.append(("audit", "Audit trail"))
        items += team_sop
        items.append(("profile", "My profile"))
    lone_worker = person is not None and Role.LONE_WORKER in perms.roles_of(user)
    return {"nav_items": items, "me": person, "lone_worker": lone_worker}
