from lonewatch.escalation.actions import fire_due, start_due
from lonewatch.worker.loop import register

# Order matters within one pass: a missed deadline starts its escalation, and a first
# step due at once fires in the same pass.
register("missed_deadlines")(start_due)
register("escalation_steps")(fire_due)
