from lonewatch.governance.actions import end_provisions, remind_reviews
from lonewatch.worker.loop import register

# RSK-06, RSK-07: reminders and end dates; nobody's safety waits on them.
register("governance reviews", urgent=False)(remind_reviews)
register("security provisions", urgent=False)(end_provisions)
