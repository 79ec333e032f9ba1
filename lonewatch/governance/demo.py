"""The demo trust's lone-working governance (RSK-01 … RSK-07): activities accepted and
returned, and a second version waiting for the directorate lead; themes and controls;
the organisational lone-working risk with a history of scores; SOPs in every state; and
a security provision waiting for sign-off; and last half-year's board assurance report,
made final, once the quarter's lone working is in. Safe to load twice."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from lonewatch import clock
from lonewatch.governance import actions
from lonewatch.governance.models import AssuranceReport, Risk, ScoreChange
from lonewatch.org.models import Organisation, Person, Team

NORTH, SOUTH = "District Nursing North", "District Nursing South"
CMHT, CRISIS = "Community Mental Health Team", "Crisis Resolution Team"

# team: [(activity, where, when, roles, [(risk type, what could go wrong)])]
ACTIVITIES = {
    NORTH: [("First home visit to a new referral", "Patients' homes, Wisbech", "Weekdays",
             "Community staff nurses", [("physical_assault", "Nothing known of the patient"),
                                        ("animals", "Dogs not shut away")]),
            ("Evening insulin round", "Patients' homes", "17:00 to 21:00",
             "Community staff nurses", [("verbal_abuse", "Relatives drinking in the evening"),
                                        ("road_traffic", "Rural roads in the dark")])],
    SOUTH: [("Wound care visits in rural villages", "Villages south of March", "Weekdays",
             "Staff nurses and healthcare assistants",
             [("environment", "No phone signal on the fen roads"),
              ("road_traffic", "Long drives alone")])],
    CMHT: [("Home visit to a patient in relapse", "Patients' homes", "Weekdays",
            "Care coordinators", [("physical_assault", "Patient unwell and paranoid"),
                                  ("verbal_abuse", "Threats at the door")]),
           ("Leaving the base alone at night", "Clarkson Clinic car park", "After 19:00",
            "All staff", [("theft", "Unlit car park, laptops carried")])],
    CRISIS: [("Crisis assessment at home", "Patients' homes", "Day and night",
              "Crisis practitioners", [("physical_assault", "Patient in crisis"),
                                       ("medical_emergency", "Overdose found on arrival")])],
}
THEMES = [("Assault or threats on a home visit", "physical_assault",
           ["physical_assault", "verbal_abuse"]),
          ("Animals at the visit", "animals", ["animals"]),
          ("Driving and remote places", "road_traffic",
           ["road_traffic", "environment"]),
          ("Leaving a building alone", "theft", ["theft"]),
          ("Medical emergency found on a visit", "medical_emergency", ["medical_emergency"])]
CONTROLS = [("Buddy system with timed check-ins in Lonewatch",
             ["Assault or threats on a home visit", "Driving and remote places",
              "Leaving a building alone"]),
            ("Risk markers checked before every visit",
             ["Assault or threats on a home visit", "Animals at the visit"]),
            ("Accompanied visits for violent patient markers",
             ["Assault or threats on a home visit"]),
            ("Ask for animals to be shut away before going in", ["Animals at the visit"]),
            ("Red alert and recording to the alarm centre",
             ["Assault or threats on a home visit", "Leaving a building alone"]),
            ("Conflict resolution training", ["Assault or threats on a home visit"]),
            ("Park under lights; leave in pairs after 19:00", ["Leaving a building alone"]),
            ("Basic life support training and a first aid kit",
             ["Medical emergency found on a visit"])]


def load() -> int:
    """Load the demo governance. Returns how many teams' activities were made."""
    organisation = Organisation.objects.filter(name="Fenland Community Health NHS Trust").first()
    if organisation is None or Risk.objects.filter(organisation=organisation).exists():
        return 0
    people = {p.user.username: p for p in Person.objects.filter(organisation=organisation)
              .select_related("user", "team")}
    teams = {t.name: t for t in Team.objects.filter(directorate__organisation=organisation)
             .select_related("directorate")}
    managers = {NORTH: people["maria.manager"], SOUTH: people["sam.lead"],
                CMHT: people["marcus.reid"], CRISIS: people["fiona.grant"]}
    leads = {NORTH: people["claire.director"], SOUTH: people["claire.director"],
             CMHT: people["rob.director"], CRISIS: people["rob.director"]}
    leslie = people["leslie.lsms"]
    with transaction.atomic():
        for name, activities in ACTIVITIES.items():
            _activities(teams[name], managers[name], activities)
        # Accepted: North, CMHT and Crisis; South returned with comments.
        for name in (NORTH, CMHT, CRISIS):
            actions.do_review(teams[name].submissions.get(), actor=leads[name].user,
                              accept=True)
        actions.do_review(teams[SOUTH].submissions.get(), actor=leads[SOUTH].user,
                          accept=False, comments="Add the weekend visits, and name who does "
                                                 "them.")
        themes = _themes(organisation, leslie)
        controls = _controls(organisation, leslie, themes)
        # North's second version, with a new activity, waits for the directorate lead.
        second = actions.draft_of(teams[NORTH], actor=managers[NORTH].user)
        actions.do_add_activity(
            second, actor=managers[NORTH].user, title="Weekend visits to end-of-life patients",
            where="Patients' homes", when="Saturdays and Sundays",
            roles="Community staff nurses",
            people=list(teams[NORTH].members.filter(roles__role="lone_worker").distinct()),
            risks=[{"risk_type": "verbal_abuse",
                    "description": "Relatives distressed; fewer colleagues on duty"}])
        actions.do_submit(second, actor=managers[NORTH].user)
        _organisational_risk(organisation, leslie, themes, controls)
        _local_risks(organisation, teams, managers, leads, controls)
        _sops(teams, managers, leads, themes)
        _provision(teams[CRISIS], managers[CRISIS])
        # The security manager's own line for the dashboard: a directorate with half its
        # teams' activities accepted is amber, not red (every colour shows).
        actions.do_set_threshold(organisation, actor=leslie.user,
                                 column="activities_accepted", amber=100, red=40)
    return len(ACTIVITIES)


def _activities(team, manager, activities) -> None:
    draft = actions.draft_of(team, actor=manager.user)
    workers = list(team.members.filter(roles__role="lone_worker").distinct())
    for title, where, when, roles, risks in activities:
        actions.do_add_activity(draft, actor=manager.user, title=title, where=where,
                                when=when, roles=roles, people=workers,
                                risks=[{"risk_type": kind, "description": text}
                                       for kind, text in risks])
    actions.do_submit(draft, actor=manager.user)


def _themes(organisation, leslie) -> dict:
    statements = actions.accepted_risks(organisation.pk)
    themes = {}
    for title, kind, types in THEMES:
        theme = actions.do_save_theme(organisation, actor=leslie.user, title=title,
                                      risk_type=kind)
        actions.do_file_under([s for s in statements if s.risk_type in types], theme,
                              actor=leslie.user)
        themes[title] = theme
    return themes


def _controls(organisation, leslie, themes) -> list:
    return [actions.do_save_control(organisation, actor=leslie.user, title=title,
                                    themes=[themes[t] for t in covers])
            for title, covers in CONTROLS]


def _organisational_risk(organisation, leslie, themes, controls) -> None:
    """The trust's one lone-working risk, first scored a year ago and lowered twice."""
    today = timezone.localdate(clock.now())
    risk = actions.do_add_risk(
        organisation, actor=leslie.user, level="organisation", lone_working=True,
        title="Harm to staff who work alone",
        description="Staff who visit patients at home or work out of sight of colleagues "
                    "may be assaulted, threatened or taken ill with nobody knowing.",
        owner=leslie, review_on=today + timedelta(days=60),
        scores={"initial_likelihood": 4, "initial_consequence": 4,
                "current_likelihood": 4, "current_consequence": 4,
                "target_likelihood": 2, "target_consequence": 4},
        themes=list(themes.values()), controls=controls,
        gaps_in_control="Weekend visits in South are not yet on the plan.",
        gaps_in_assurance="Device and training compliance not yet reported.")
    actions.do_rescore(risk, actor=leslie.user, scores={"current_likelihood": 3},
                       reason="Buddy system and check-ins live in every team")
    actions.do_rescore(risk, actor=leslie.user, scores={"current_consequence": 3},
                       reason="Red alert to the alarm centre in every team")
    # The history reads as it happened: the first scores a year ago, then the changes.
    for change, days in zip(ScoreChange.objects.filter(risk=risk).order_by("id"),
                            (365, 365, 365, 180, 30), strict=False):
        ScoreChange.objects.filter(pk=change.pk).update(at=change.at - timedelta(days=days))
    actions.do_add_action(risk, actor=leslie.user, owner=leslie,
                          description="Report device and training compliance on the "
                                      "dashboard", due_on=today + timedelta(days=45))


# (team or directorate of a team, owner's key, title, (initial, current, target) as
# (likelihood, consequence), gaps in control)
LOCAL_RISKS = [
    (CMHT, "team", "Assault on a home visit to a patient in relapse",
     ((4, 4), (3, 4), (2, 4)), "Relapse is not always known before the visit."),
    (NORTH, "team", "Dog bites on home visits", ((3, 2), (2, 2), (1, 2)), ""),
    (CRISIS, "directorate", "Crisis visits at night without police support",
     ((4, 5), (3, 5), (2, 5)), "Police attendance at night is not guaranteed."),
]


def _local_risks(organisation, teams, managers, leads, controls) -> None:
    """RSK-03: risks a team or a directorate holds on the register beside the trust's."""
    today = timezone.localdate(clock.now())
    for name, level, title, scores, gaps in LOCAL_RISKS:
        team = teams[name]
        owner = managers[name] if level == "team" else leads[name]
        values = {f"{which}_{part}": value
                  for which, pair in zip(("initial", "current", "target"), scores,
                                         strict=True)
                  for part, value in zip(("likelihood", "consequence"), pair, strict=True)}
        actions.do_add_risk(
            organisation, actor=owner.user, level=level, title=title,
            description=f"{title}, as {team.name} sees it.", owner=owner,
            team=team if level == "team" else None,
            directorate=team.directorate if level == "directorate" else None,
            review_on=today + timedelta(days=120), scores=values,
            controls=controls[:2], gaps_in_control=gaps)


def _sops(teams, managers, leads, themes) -> None:
    """SOPs in every state: North approved, CMHT approved then past its review date,
    South waiting for approval, Crisis a draft."""
    local = {NORTH: "Base: Clarkson Clinic. Keys and the personal alarms are in the "
                    "team office. Evening round in pairs when a violent patient marker "
                    "applies.",
             CMHT: "First visits to a patient in relapse are made in pairs.",
             CRISIS: "Night visits always in pairs, with the police told in advance when "
                     "a weapon is known.",
             SOUTH: "Check in before leaving the main road where there is no signal."}
    chosen = {NORTH: ["Assault or threats on a home visit", "Animals at the visit",
                      "Driving and remote places"],
              CMHT: ["Assault or threats on a home visit", "Leaving a building alone"],
              CRISIS: ["Assault or threats on a home visit",
                       "Medical emergency found on a visit"],
              SOUTH: ["Driving and remote places"]}
    for name in (NORTH, CMHT, CRISIS, SOUTH):
        manager = managers[name]
        sop = actions.do_start_sop(teams[name], actor=manager.user)
        actions.do_edit_sop(sop, actor=manager.user, themes=[themes[t] for t in chosen[name]],
                         local_arrangements=local[name])
        if name != CRISIS:
            actions.do_submit_sop(sop, actor=manager.user)
        if name in (NORTH, CMHT):
            actions.do_approve_sop(sop, actor=leads[name].user, approve=True)
    cmht = teams[CMHT].sops.get()
    type(cmht).objects.filter(pk=cmht.pk).update(
        review_on=timezone.localdate(clock.now()) - timedelta(days=10))


def _provision(team, manager) -> None:
    today = timezone.localdate(clock.now())
    actions.do_request_provision(
        team, actor=manager.user, service_user="CRT-4471", address="7 Elm Close, March",
        why_care_continues="Daily depot medication that cannot be given at a clinic; the "
                           "patient will not travel.",
        mdt_date=today - timedelta(days=2),
        mdt_attendees="Consultant psychiatrist, Crisis team manager, LSMS, ward manager",
        mdt_outcome="No alternative venue; security officer present for two weeks while a "
                    "community treatment order is sought.",
        starts_on=today + timedelta(days=1), ends_on=today + timedelta(days=15))


# The security manager's words in last half-year's board assurance report.
ASSURANCE = {
    "leadership": "The security management director chairs the Violence Prevention and "
                  "Reduction group, which met three times in the half-year. The lone "
                  "working policy was re-approved in July.",
    "governance": "Three of the four teams have their lone-working activities accepted; "
                  "District Nursing South's were returned for its weekend visits. The "
                  "organisational lone-working risk is on the corporate register.",
    "collaboration": "Cambridgeshire Constabulary shares warning markers through the "
                     "information sharing agreement; the alarm-centre contract was reviewed "
                     "with the supplier.",
    "data": "Every missed check-in was resolved by the escalation steps; some were staff "
            "who forgot to check out, which the teams are working on.",
    "workforce": "Training and device compliance come from the learning system and the "
                 "device supplier until Lonewatch records them.",
    "interventions": "High-risk visits alone are the exception, each agreed by a manager.",
    "evaluation": "Gap: no incident reviews yet recorded against lone working. The next "
                  "report will include them.",
}


def load_assurance() -> bool:
    """Last half-year's board assurance report, written by the security manager and made
    final, its evidence frozen. Loaded after the quarter's lone working so that the
    evidence counts it. True if it was made now."""
    organisation = Organisation.objects.filter(name="Fenland Community Health NHS Trust").first()
    if organisation is None or AssuranceReport.objects.filter(
            organisation=organisation).exists():
        return False
    leslie = Person.objects.select_related("user").get(
        organisation=organisation, user__username="leslie.lsms")
    today = timezone.localdate(clock.now())
    # The last whole half of the NHS year: April to September, or October to March.
    if today.month >= 10:
        start, end = today.replace(month=4, day=1), today.replace(month=9, day=30)
    elif today.month >= 4:
        start = today.replace(year=today.year - 1, month=10, day=1)
        end = today.replace(month=3, day=31)
    else:
        start = today.replace(year=today.year - 1, month=4, day=1)
        end = today.replace(year=today.year - 1, month=9, day=30)
    report = actions.do_start_assurance(organisation, actor=leslie.user, period_start=start,
                                        period_end=end)
    for part, text in ASSURANCE.items():
        report = actions.do_write_assurance(report, actor=leslie.user, part=part, text=text)
    actions.do_finalise_assurance(report, actor=leslie.user)
    return True
