"""The demo trust's risk register and today's plans (PRE-01 to PRE-05, MOV-01): a marker
of every category, some past their review date, the teams' emergency equipment lists,
and visits planned for today and tomorrow, one of them high risk and needing a
colleague. Safe to load twice."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from lonewatch import clock
from lonewatch.markers import actions
from lonewatch.markers.models import Category, Marker
from lonewatch.org.models import Organisation, Person, Team
from lonewatch.visits import actions as visits

SOURCE = "Demo: "  # every demo marker's source starts so; how a second load knows
EQUIPMENT = "Charged phone with Lonewatch signed in\nPersonal alarm\nTorch\n" \
            "Car keys and a full tank\nInfection control kit"

# category, person (NHS number), place (postcode, house, flat), nature, advice, expired
MARKERS = [
    (Category.VIOLENT_INDICATOR, "9434765919", ("PE13 1AB", "12", ""),
     "Threatened a nurse with a kitchen knife in March", "Visit in pairs; keep between "
     "the patient and the door", False),
    (Category.VIOLENT_SCHEME, "4010232137", ("PE15 8QT", "7", ""),
     "On the violent patient scheme after an assault on staff", "Visit only for clinical "
     "need, in pairs, by appointment", False),
    (Category.ANIMALS, "", ("PE13 2XY", "3", ""), "Two large dogs, loose in the garden",
     "Phone ahead and ask for the dogs to be shut in a room", False),
    (Category.OTHERS_PRESENT, "", ("PE14 9JX", "22", "4"), "Partner with a history of "
     "violence is often present", "Check who is there before going in", False),
    (Category.SUBSTANCES, "9876543210", ("", "", ""), "Heavy drinking; aggressive when "
     "drunk", "Leave if he has been drinking; rearrange the visit", False),
    (Category.WEAPONS, "", ("PE13 3EF", "45", ""), "Air rifle kept in the hall",
     "Ask for it to be locked away before you go in", True),
    (Category.ENVIRONMENT, "", ("PE15 0AA", "Rose Cottage", ""), "Unlit track, no phone "
     "signal at the house", "Go in daylight; check in before you leave the road", False),
    (Category.INFECTION, "4857773457", ("", "", ""), "Carrier of MRSA",
     "Apron and gloves; follow the infection control procedure", True),
    (Category.OTHER, "", ("PE13 5GH", "9", ""), "Neighbour has shouted at staff parking "
     "outside", "Park in the next street", False),
]


def load() -> int:
    """Load the demo register, equipment and plans. Returns how many markers were made."""
    organisation = Organisation.objects.filter(name="Fenland Community Health NHS Trust").first()
    if organisation is None or Marker.objects.filter(organisation=organisation,
                                                     source__startswith=SOURCE).exists():
        return 0
    people = {p.user.username: p for p in Person.objects.filter(organisation=organisation)
              .select_related("user", "team", "buddy")}
    leslie = people["leslie.lsms"].user
    today = timezone.localdate(clock.now())
    with transaction.atomic():
        for category, nhs, (postcode, house, flat), nature, advice, expired in MARKERS:
            marker = actions.do_add_marker(
                organisation, actor=leslie, category=category, nature=nature, advice=advice,
                source=SOURCE + "incident reports and the patient record", nhs_number=nhs,
                postcode=postcode, house=house, flat=flat, review_on=today + timedelta(days=180))
            if expired:
                Marker.objects.filter(pk=marker.pk).update(review_on=today - timedelta(days=20))
        Team.objects.filter(directorate__organisation=organisation,
                            emergency_equipment="").update(emergency_equipment=EQUIPMENT)
        _plans(people)
    return len(MARKERS)


def _plans(people: dict[str, Person]) -> None:
    """Today's plans, from an hour from now, and tomorrow's."""
    start = clock.now().replace(second=0, microsecond=0) + timedelta(hours=1)
    plans = [
        ("nina.nurse", 0, "12 Acacia Avenue, Wisbech", "PE13 1AB", "9434765919"),
        ("nina.nurse", 2, "3 Orchard Way, Wisbech", "PE13 2XY", ""),
        ("nina.nurse", 4, "Flat 2, 30 Church Street, Wisbech", "PE13 1AB", ""),
        ("nina.nurse", 24, "Rose Cottage, Fen Road, March", "PE15 0AA", ""),
        ("ben.buddy", 1, "Flat 4, 22 Station Road, Chatteris", "PE14 9JX", ""),
        ("hana.patel", 1, "9 Mill Lane, Wisbech", "PE13 5GH", ""),
        ("mo.hassan", 2, "7 Elm Close, March", "PE15 8QT", "4010232137"),
    ]
    for username, hours, address, postcode, nhs in plans:
        worker = people[username]
        at = start + timedelta(hours=hours)
        visits.do_plan_visit(worker, actor=worker.user, address=address, postcode=postcode,
                             nhs_number=nhs, planned_start=at,
                             planned_end=at + timedelta(minutes=45), buddy=worker.buddy)
