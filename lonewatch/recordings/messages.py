"""What recordings' messages to the security manager say."""

from lonewatch.notify.messages import link


def reviews_overdue(reviews, now) -> tuple[str, str, str]:
    count = len(reviews)
    oldest = min(reviews, key=lambda r: r.due_at)
    days = max(0, (now - oldest.due_at).days)
    return (
        f"{count} alarm review{'s' if count != 1 else ''} overdue",
        f"{count} alarm review{'s are' if count != 1 else ' is'} overdue: the oldest, the "
        f"alarm of {oldest.alarm.worker.full_name}, by {days} day{'s' if days != 1 else ''}. "
        "Record an outcome for each in the review queue.",
        link("review_queue"),
    )


def subject_access_due(sar, today) -> tuple[str, str, str]:
    days = (sar.due_on - today).days
    when = (f"due in {days} day{'s' if days != 1 else ''}" if days > 0 else
            "due today" if days == 0 else f"overdue by {-days} day{'s' if days != -1 else ''}")
    return (
        f"Subject access request {when}",
        f"The subject access request of {sar.requester} for the recording of the alarm of "
        f"{sar.recording.alarm.worker.full_name} is {when} ({sar.due_on:%-d %B %Y}). Record "
        "its outcome on the case page.",
        link("recording_case", sar.recording.alarm_id),
    )
