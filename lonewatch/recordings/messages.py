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
