from lonewatch.visits.actions import send_reminders
from lonewatch.worker.loop import register

register("reminders")(send_reminders)
