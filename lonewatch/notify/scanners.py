from lonewatch.notify.actions import send_due
from lonewatch.worker.loop import register

register("deliveries")(send_due)
