"""The pre-visit check (PRE-04, Q-PERF) with 1,000,000 risk markers in one trust's
register (and 50,000 in a second trust's, some for the same people and places, so the
organisation filter matters). Measured: ``actions.precheck``, the check the API serves,
on a mix of a third each of visits found by an NHS number typed with spaces, visits
found by an address typed differently from the register, and visits with no marker;
every marker shown is an audited read, written as the API writes it. Then ``GET
/api/v1/visits/precheck`` through Django's test client, for a worker with a day of
planned visits (the API reads their markers too, to decide which markers the worker may
read whole), and a few checks by local identifier alone. First on PostgreSQL, then on
the embedded default (SQLite).

The reference, measured in the same process after each check: a primary-key lookup of
one marker through the ORM. The figures to compare across machines are the ratios.
"""

import os
import random
import sys
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from bench import common
from bench.common import pct

MARKERS = int(os.environ.get("BENCH_MARKERS", "1000000"))
OTHER_MARKERS = MARKERS // 20  # the second trust's register
POSTCODES = int(os.environ.get("BENCH_POSTCODES", "100000"))
CALLS = int(os.environ.get("BENCH_PRECHECK_CALLS", "2400"))
WARMUP = 300
HTTP_CALLS = int(os.environ.get("BENCH_PRECHECK_HTTP_CALLS", "300"))
LOCAL_ID_CALLS = 20
TARGET_MS = 20.0
BATCH = 50_000

AREAS = ["PE", "CB", "NR", "IP", "CO", "CM", "SG", "LU", "MK", "NN", "LE", "NG", "DE", "S",
         "B", "CV", "WV", "M", "L", "LS", "BD", "HU", "YO", "NE", "SR", "BS", "BA", "EX",
         "PL", "SO", "BN", "RH", "GU", "OX", "RG", "E", "N", "SE", "SW", "W", "NW", "CF",
         "SA", "G", "EH"]
INWARD = "ABDEFGHJLNPQRSTUWXYZ"  # the letters an inward code uses
STREETS = ["Mill Lane", "Church Road", "Station Road", "High Street", "Victoria Avenue",
           "Park Close", "Queens Drive", "Orchard Way", "Manor Gardens", "Green Lane"]
HOUSE_NAMES = ["rose cottage", "the old rectory", "ivy house", "orchard view",
               "the willows", "holly lodge", "meadow barn", "the laurels"]
CATEGORIES = [("violent_patient_indicator", 18), ("violent_patient_scheme", 4),
              ("aggressive_animals", 20), ("others_present", 10), ("substance_misuse", 12),
              ("weapons", 4), ("environment", 14), ("infection_control", 10), ("other", 8)]
NATURES = ["Threatened staff with a knife at the door", "Two large dogs, not always shut away",
           "Partner has been verbally aggressive to visiting staff",
           "Needles left in the living room", "Hoarding: blocked exits, unsafe floor upstairs",
           "MRSA: full PPE", "Air rifle kept in the hall",
           "Shouting and throwing objects when visits run late"]
ADVICES = ["Visit in pairs; keep the exit clear and your phone in your hand",
           "Ask for the dogs to be shut away before you go in",
           "Meet at the clinic where you can; otherwise visit with a colleague",
           "Wear gloves; bring a sharps bin", "Full PPE; do not take your bag inside"]
SOURCES = ["Incident report IR-2291", "Police", "GP practice", "Datix 55120",
           "Community mental health team"]
COLUMNS = ["organisation_id", "nhs_number", "local_id", "postcode", "house", "flat",
           "whole_building", "uprn", "category", "nature", "advice", "source", "raised_by_id",
           "raised_at", "review_on", "ended_at", "state", "proposed_from_id",
           "expiry_told_on", "reviewed_at"]


# -- what the register holds ---------------------------------------------------------


def nhs_numbers(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """Valid NHS numbers (mod-11 check digit) in the English ranges, none in ``taken``."""
    out = []
    while len(out) < count:
        first = rng.choice("467")
        body = first + f"{rng.randrange(10 ** 8):08d}"
        check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11
        if check == 10:
            continue  # no number has this body
        number = body + str(check % 11)
        if number not in taken:
            taken.add(number)
            out.append(number)
    return out


def postcodes(rng: random.Random, count: int) -> list[str]:
    """Distinct UK postcodes, written as the register writes them (``PE13 1AB``)."""
    found: set[str] = set()
    while len(found) < count:
        area = rng.choice(AREAS)
        district = str(rng.randint(1, 29 if len(area) == 2 else 19))
        if len(area) <= 2 and district.isdigit() and len(district) == 1 and \
                area in ("SW", "W", "E", "N", "EC", "WC") and rng.random() < 0.2:
            district += rng.choice("ABCHMNPRVWXY")  # SW1A, W1K …
        found.add(f"{area}{district} {rng.randrange(10)}{rng.choice(INWARD)}"
                  f"{rng.choice(INWARD)}")
    return sorted(found)


class Register:
    """The seeded register, and enough about it to ask for what is (and is not) in it."""

    def __init__(self, seed: int = 20261130):
        self.rng = random.Random(seed)
        taken: set[str] = set()
        self.people = nhs_numbers(self.rng, MARKERS * 45 // 100, taken)
        self.strangers = nhs_numbers(self.rng, 5000, taken)  # in nobody's register
        self.codes = postcodes(self.rng, POSTCODES + 2000)
        self.unknown_codes = self.codes[POSTCODES:]  # valid, but no marker there
        self.codes = self.codes[:POSTCODES]
        self.rng.shuffle(self.codes)
        # One postcode in fifty is a block of flats (1 to 3 buildings of up to 60 flats).
        self.blocks = self.codes[:POSTCODES // 50]
        self.by_nhs: list[tuple] = []  # samples of live markers, to ask for
        self.by_place: list[tuple] = []
        self.by_local: list[str] = []
        self.today = date.today()
        self.now = datetime.now(UTC)
        self.categories = [c for c, w in CATEGORIES for _ in range(w)]

    def place(self) -> tuple[str, str, str, bool]:
        rng = self.rng
        if rng.random() < 0.15:
            code = rng.choice(self.blocks)
            whole = rng.random() < 0.06
            return code, str(rng.randint(1, 3)), "" if whole else str(rng.randint(1, 60)), \
                whole
        code = self.codes[rng.randrange(POSTCODES)]
        roll = rng.random()
        if roll < 0.04:
            house = rng.choice(HOUSE_NAMES)
        elif roll < 0.07:
            house = f"{rng.randint(1, 150)}{rng.choice('ab')}"
        else:
            house = str(rng.randint(1, 150))
        flat = str(rng.randint(1, 6)) if rng.random() < 0.08 else ""
        return code, house, flat, False

    def rows(self, organisation_id: int, raised_by_id: int, count: int, *, own: bool):
        """``count`` markers for one trust, in ``COLUMNS`` order."""
        rng, now, today = self.rng, self.now, self.today
        for _ in range(count):
            roll = rng.random()
            nhs = local = code = house = flat = uprn = ""
            whole = False
            if roll < 0.70:  # a person (15 % of all: a person at a place)
                nhs = rng.choice(self.people) if own or rng.random() < 0.5 else \
                    rng.choice(self.strangers)
                if rng.random() < 0.2:
                    local = f"RIO{rng.randrange(10 ** 7):07d}"
            if roll >= 0.55:  # a place
                code, house, flat, whole = self.place()
                if rng.random() < 0.3:
                    uprn = str(rng.randrange(10 ** 11, 10 ** 12))
            state = rng.random()
            state = "proposed" if state < 0.03 else "declined" if state < 0.04 else "active"
            ended = now - timedelta(days=rng.randint(1, 900)) if rng.random() < 0.12 else None
            expired = rng.random() < 0.10
            review = today + timedelta(days=-rng.randint(1, 400) if expired else
                                       rng.randint(1, 365))
            raised = now - timedelta(days=rng.randint(1, 1800), seconds=rng.randrange(86400))
            if own and state == "active" and ended is None:
                if nhs and rng.random() < 0.02:
                    self.by_nhs.append((nhs, code, house, flat))
                if code and rng.random() < 0.02:
                    self.by_place.append((code, house, flat, whole))
                if local and rng.random() < 0.01:
                    self.by_local.append(local)
            yield (organisation_id, nhs, local, code, house, flat, whole, uprn,
                   rng.choice(self.categories), rng.choice(NATURES), rng.choice(ADVICES),
                   rng.choice(SOURCES), raised_by_id, raised, review, ended, state, None,
                   review if expired and rng.random() < 0.5 else None,
                   raised + timedelta(days=30) if rng.random() < 0.3 else None)

    # -- what a planner types ---------------------------------------------------------

    def street(self) -> str:
        return self.rng.choice(STREETS)

    def typed_code(self, code: str) -> str:
        return self.rng.choice([code.lower().replace(" ", ""), code.replace(" ", "  "),
                                f" {code.lower()} ", code.replace(" ", "")])

    def typed_address(self, house: str, flat: str) -> str:
        rng, street = self.rng, self.street()
        if not house[0].isdigit():  # a named house: its name, then its street
            return (f"Flat {flat}, " if flat else "") + rng.choice(
                [f"{house.title()}, {street}", f"{house} {street.lower()}"])
        if flat:
            return rng.choice([f"Flat {flat}, {house} {street}", f"{flat}/{house} {street}",
                               f"apartment {flat} {house} {street.lower()}",
                               f"FLAT {flat} {house.upper()} {street.upper()}"])
        return rng.choice([f"{house}, {street}", f"{house.upper()} {street.upper()}",
                           f"{house} {street.replace('Road', 'Rd').replace('Lane', 'Ln')}"])

    def typed_nhs(self, nhs: str) -> str:
        return self.rng.choice([f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", f"{nhs[:3]}-{nhs[3:6]}-"
                                f"{nhs[6:]}", f" {nhs[:3]}  {nhs[3:6]} {nhs[6:]} "])

    def query(self, kind: str) -> dict:
        """One pre-visit check: ``nhs`` (found by NHS number, with the visit's address),
        ``place`` (found by an address typed differently) or ``miss``."""
        rng = self.rng
        if kind == "nhs":
            nhs, code, house, flat = rng.choice(self.by_nhs)
            if not code:  # the marker is about the person: visit them at home
                code = rng.choice(self.codes)
                house, flat = str(rng.randint(1, 150)), ""
            return {"nhs_number": self.typed_nhs(nhs), "postcode": self.typed_code(code),
                    "address": self.typed_address(house, flat)}
        if kind == "place":
            code, house, flat, whole = rng.choice(self.by_place)
            if whole:
                flat = str(rng.randint(1, 60))
            return {"postcode": self.typed_code(code),
                    "address": self.typed_address(house, flat)}
        # No marker: someone in no register here (the other trust's, perhaps), at a house
        # with none (the register's houses go up to 150), in a postcode that has markers
        # (or, one time in four, none).
        if rng.random() < 0.25:
            code, house = rng.choice(self.unknown_codes), str(rng.randint(1, 150))
        else:
            code, house = rng.choice(self.codes), str(rng.randint(151, 400))
        return {"nhs_number": self.typed_nhs(rng.choice(self.strangers)),
                "postcode": self.typed_code(code), "address": self.typed_address(house, "")}


# -- writing it ------------------------------------------------------------------------


def seed() -> tuple:
    """The two trusts, a planner, the register. Returns (trust id, planner's user, the
    register, the planner's API token, seconds taken)."""
    from django.db import connection, transaction

    from lonewatch.accounts.actions import do_create_token
    from lonewatch.accounts.models import User
    from lonewatch.markers.models import Marker
    from lonewatch.org.models import Organisation, Person, RoleMembership
    from lonewatch.org.roles import Role, Scope

    started = time.monotonic()
    with transaction.atomic():
        trust = Organisation.objects.create(name="Bench Trust")
        other = Organisation.objects.create(name="Neighbouring Trust")
        keeper = User.objects.create(username="bench-security", password="!")
        planner = User.objects.create(username="bench-planner", password="!")
        person = Person.objects.create(user=planner, organisation=trust,
                                       full_name="Bench Planner")
        RoleMembership.objects.create(person=person, role=Role.LONE_WORKER, scope=Scope.OWN)
        token = do_create_token(planner, name="bench", actor=None)[1]
    register = Register()
    fields = [f for f in Marker._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    missing = [f for f in fields if f.attname not in COLUMNS]
    extra = tuple(f.get_default() if f.has_default() else None for f in missing)
    for f in missing:
        if not (f.has_default() or f.null):
            raise SystemExit(f"bench/precheck.py does not know what to write in {f.name}")
    columns = COLUMNS + [f.attname for f in missing]
    assert set(columns) == set(names)
    table = Marker._meta.db_table
    column = {f.attname: f.column for f in fields}
    quoted = ", ".join(connection.ops.quote_name(column[c]) for c in columns)
    with _without_indexes(table):
        for organisation, count, own in ((trust.pk, MARKERS, True),
                                         (other.pk, OTHER_MARKERS, False)):
            rows = register.rows(organisation, keeper.pk, count, own=own)
            _write(table, quoted, columns, rows, extra)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
        else:
            cursor.execute("ANALYZE")
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        total = cursor.fetchone()[0]
    assert total == MARKERS + OTHER_MARKERS, total
    return trust.pk, planner, register, token, time.monotonic() - started


@contextmanager
def _without_indexes(table: str):
    """The table's indexes dropped while it is filled, then built again from their own
    definitions (faster than keeping them up to date row by row)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                           "AND indexname::regclass NOT IN (SELECT conindid FROM "
                           "pg_constraint WHERE conrelid = %s::regclass)", [table, table])
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                           "AND tbl_name = %s AND sql IS NOT NULL", [table])
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _, definition in indexes:
                cursor.execute(definition)


def _write(table: str, quoted: str, columns: list[str], rows, extra: tuple) -> None:
    from django.db import connection, models, transaction

    from lonewatch.markers.models import Marker

    name = connection.ops.quote_name(table)
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor, \
                cursor.cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + extra)
        return
    # SQLite keeps a time as text, as Django writes it.
    when = [i for i, c in enumerate(columns)
            if isinstance(Marker._meta.get_field(c), models.DateTimeField)]
    adapt = connection.ops.adapt_datetimefield_value
    sql = (f"INSERT INTO {name} ({quoted}) "  # noqa: S608
           f"VALUES ({', '.join(['%s'] * len(columns))})")
    batch: list[tuple] = []
    for row in rows:
        row = list(row + extra)
        for i in when:
            if row[i] is not None:
                row[i] = adapt(row[i])
        batch.append(tuple(row))
        if len(batch) == BATCH:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, batch)
            batch = []
    if batch:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)


def plan_day(planner, register: Register, visits: int = 6) -> int:
    """A day of planned visits for the planner, to people and places in the register."""
    from lonewatch.org.models import Person
    from lonewatch.visits.models import PlannedVisit

    me = planner.person
    buddy = Person.objects.create(user=type(planner).objects.create(
        username="bench-buddy", password="!"), organisation_id=me.organisation_id,
        full_name="Bench Buddy")
    start = datetime.now(UTC) + timedelta(hours=1)
    people = [v for v in register.by_nhs if v[1]][:visits]
    for n, (nhs, code, house, flat) in enumerate(people):
        PlannedVisit.objects.create(
            worker=me, buddy=buddy, nhs_number=nhs, postcode=code,
            address=register.typed_address(house, flat),
            planned_start=start + timedelta(hours=n), created_at=datetime.now(UTC),
            planned_end=start + timedelta(hours=n, minutes=45))
    return len(people)


# -- measuring -------------------------------------------------------------------------


def figures(values: list[float]) -> str:
    return common.figures(values, (50, 95, 99))


def measure(label: str) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from lonewatch.markers import actions
    from lonewatch.markers.models import Marker

    trust, planner, register, token, seconds = seed()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{label}: {MARKERS:,} markers for one trust and {OTHER_MARKERS:,} for another, "
          f"{POSTCODES:,} postcodes, seeded in {seconds:.0f} s; load average {load}",
          flush=True)
    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {Marker._meta.db_table}")  # noqa: S608
        low, high = cursor.fetchone()

    def reference() -> float:
        pk = rng.randint(low, high)
        start = time.perf_counter_ns()
        Marker.objects.get(pk=pk)
        return (time.perf_counter_ns() - start) / 1e6

    kinds = ["nhs", "place", "miss"]
    plan = [(kind, register.query(kind)) for kind in kinds for _ in range((CALLS + WARMUP) // 3)]
    rng.shuffle(plan)
    warm, timed = plan[:WARMUP], plan[WARMUP:]
    for _, query in warm:
        actions.precheck(trust, actor=planner, **query)
        reference()
    took: dict[str, list[float]] = {k: [] for k in kinds}
    ref: list[float] = []
    shown, wrong = [], 0
    for kind, query in timed:
        start = time.perf_counter_ns()
        result = actions.precheck(trust, actor=planner, **query)
        took[kind].append((time.perf_counter_ns() - start) / 1e6)
        ref.append(reference())  # after each check: the same machine, the same moment
        shown.append(len(result.markers))
        if (kind == "miss") == bool(result.markers):
            wrong += 1
    every = [t for k in kinds for t in took[k]]
    p99 = pct(every, 99)
    print(f"  actions.precheck, {len(every)} calls after {len(warm)} to warm up: "
          f"{figures(every)}")
    for kind, words in (("nhs", "found by NHS number typed with spaces"),
                        ("place", "found by an address typed differently"),
                        ("miss", "no marker")):
        print(f"    {words} ({len(took[kind])}): {figures(took[kind])}")
    print(f"    markers shown (each an audited read): {sum(shown):,} in all, "
          f"{sum(shown) / len(shown):.2f} a call, at most {max(shown)}; "
          f"answers not as expected: {wrong}")
    print(f"  reference, a marker by primary key through the ORM ({len(ref)}): {figures(ref)}")
    print(f"  precheck / reference: p50 {pct(every, 50) / pct(ref, 50):.1f}x, "
          f"p99 {p99 / pct(ref, 99):.1f}x")
    print(f"  target p99 < {TARGET_MS:.0f} ms: {'met' if p99 < TARGET_MS else 'missed'} "
          f"({p99:.2f} ms)", flush=True)

    # The API shows a worker the markers themselves only for visits of their own, so it
    # reads the markers of each of their planned visits too: give the planner a day's.
    day = plan_day(planner, register)
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    kinds_http = [kind for kind in kinds for _ in range((HTTP_CALLS + 30) // 3)]
    rng.shuffle(kinds_http)
    http, failed = [], 0
    for n, kind in enumerate(kinds_http):
        query = {k: v.strip() for k, v in register.query(kind).items()}
        start = time.perf_counter_ns()
        response = client.get("/api/v1/visits/precheck", query)
        if n >= 30:
            http.append((time.perf_counter_ns() - start) / 1e6)
        failed += response.status_code != 200
    print(f"  GET /api/v1/visits/precheck through Django's test client, {len(http)} calls, "
          f"the planner with {day} visits planned: {figures(http)}; not 200: {failed}")

    local = []
    for local_id in rng.sample(register.by_local, min(LOCAL_ID_CALLS, len(register.by_local))):
        start = time.perf_counter_ns()
        actions.precheck(trust, actor=planner, local_id=local_id)
        local.append((time.perf_counter_ns() - start) / 1e6)
    print(f"  by local identifier alone ({len(local)}): {figures(local)}", flush=True)


def main() -> None:
    common.on_both_databases("bench.precheck", "lonewatch_bench_precheck")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        measure(sys.argv[1])
    else:
        main()
