from lonewatch.recordings.actions import destroy_due, remind_overdue_reviews, remind_subject_access
from lonewatch.worker.loop import register

# REC-02: not urgent beside a missed check-in, but continuous: a false alarm's recording
# goes within a pass of its 24 hours.
register("recording destruction", urgent=False)(destroy_due)
register("review reminders", urgent=False)(remind_overdue_reviews)
register("subject access reminders", urgent=False)(remind_subject_access)
