from django.db.models import Q

from lonewatch.notify.actions import send_due
from lonewatch.notify.models import Delivery
from lonewatch.worker.claim import holds
from lonewatch.worker.loop import register

register("deliveries")(send_due)
# A message is held past commit while it is sent: if its worker dies, another takes it
# back (ESC-03).
holds(Delivery, due="next_attempt_at", waiting=Q(status=Delivery.Status.PENDING))
