from lonewatch.alarms.actions import realert_due
from lonewatch.worker.loop import register

register("alarm_realerts")(realert_due)
