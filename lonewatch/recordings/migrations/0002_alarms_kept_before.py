"""REC-01: every alarm raised before recordings had retention gets its recording row,
with the rule and date the policy gives it. The rules are a frozen copy of
``lonewatch.recordings.retention.decide`` as it was written here (a migration must not
change with later code); the periods are those configured when it runs."""

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import migrations
from django.utils import timezone

GENUINE = ("genuine", "genuine_closed_safely")


def _day(moment):
    day = timezone.localdate(moment)
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return start, start + timedelta(days=1)


def _decide(Alarm, alarm):
    if alarm.kind == "amber":
        start, end = _day(alarm.raised_at)
        linked = Alarm.objects.filter(worker_id=alarm.worker_id, kind="red", drill=False,
                                      category__in=GENUINE, raised_at__gte=start,
                                      raised_at__lt=end).exists()
        months = settings.RETAIN_LINKED_AMBER_MONTHS if linked else settings.RETAIN_AMBER_MONTHS
        return ("amber_linked" if linked else "amber",
                alarm.raised_at + relativedelta(months=months))
    if alarm.state != "closed":
        return "open", None
    hours = timedelta(hours=settings.RETAIN_FALSE_ALARM_HOURS)
    if alarm.drill:
        return "drill", alarm.closed_at + hours
    if alarm.category in GENUINE:
        return "genuine", alarm.raised_at + relativedelta(months=settings.RETAIN_GENUINE_MONTHS)
    if alarm.duress_suspected:
        return "awaiting_review", None
    return "false_alarm", alarm.closed_at + hours


def give_every_alarm_its_recording(apps, schema_editor):
    Alarm = apps.get_model("alarms", "Alarm")
    Recording = apps.get_model("recordings", "Recording")
    Review = apps.get_model("recordings", "Review")
    AudioChunk = apps.get_model("alarms", "AudioChunk")
    now = timezone.now()
    for alarm in Alarm.objects.filter(recording__isnull=True).select_related("worker").iterator():
        rule, delete_after = _decide(Alarm, alarm)
        if rule == "awaiting_review":
            Review.objects.get_or_create(alarm=alarm, defaults={
                "organisation_id": alarm.organisation_id, "reason": "possible_duress",
                "opened_at": now, "due_at": now + timedelta(days=settings.REVIEW_DAYS)})
        chunks = list(AudioChunk.objects.filter(alarm=alarm).order_by("seq"))
        Recording.objects.create(
            alarm=alarm, organisation_id=alarm.organisation_id, made_by_id=alarm.worker_id,
            format=chunks[0].content_type if chunks else "",
            size=sum(c.size for c in chunks), chunks=len(chunks), rule=rule,
            delete_after=delete_after)


class Migration(migrations.Migration):

    dependencies = [
        ("recordings", "0001_initial"),
        ("alarms", "0010_audiochunk_file"),
    ]

    operations = [
        migrations.RunPython(give_every_alarm_its_recording, migrations.RunPython.noop,
                             elidable=True),
    ]
