from django.db import models


class Heartbeat(models.Model):
    """One row per running worker process, touched every few seconds.

    /healthz reports the age of the freshest row: an old one means no worker
    is running, so no deadline is being acted on.
    """

    name = models.CharField(max_length=200, primary_key=True)
    pid = models.PositiveIntegerField()
    host = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)
    # The kernel's boot id and pid namespace: a worker with the same value can ask the
    # kernel whether this one's process is still running (see liveness.py).
    machine = models.CharField(max_length=200, blank=True, default="")

    def __str__(self):
        return self.name
