from lonewatch.markers.actions import tell_owners_of_expired
from lonewatch.worker.loop import register

# PRE-01: nobody's safety waits on it; it runs after the urgent scanners.
register("expired markers", urgent=False)(tell_owners_of_expired)
