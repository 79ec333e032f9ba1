from lonewatch.core import permissions as perms


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    person = getattr(user, "person", None)
    items = [("home", "Home")]
    if person is not None:
        roles = perms.roles_of(user)
        if perms.Role.LONE_WORKER in roles:
            items.append(("my_day", "My day"))
        if perms.Role.BUDDY in roles:
            items.append(("buddy", "Buddy"))
        if perms.can_anywhere(user, perms.ACT, perms.ALARM):
            items.append(("console", "Console"))
        if perms.can_anywhere(user, perms.VIEW, perms.SESSION):
            items.append(("board", "Board"))
        if perms.can_anywhere(user, perms.VIEW, perms.ALARM):
            items.append(("alarm_report", "Alarm figures"))
        if perms.can_anywhere(user, perms.VIEW, perms.PERSON):
            items.append(("people", "People"))
        if perms.can_anywhere(user, perms.VIEW, perms.TEAM):
            items.append(("teams", "Teams"))
        if perms.can_anywhere(user, perms.VIEW, perms.AUDIT):
            items.append(("audit", "Audit trail"))
        items.append(("profile", "My profile"))
    return {"nav_items": items, "me": person}
