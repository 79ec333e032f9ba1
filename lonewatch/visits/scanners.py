from lonewatch.visits.actions import (
    purge_kept_locations,
    remind_fitness_reviews,
    send_reminders,
)
from lonewatch.worker.loop import register

register("reminders")(send_reminders)
# Nobody's safety waits on a review reminder: it runs after the urgent scanners.
register("fitness reviews", urgent=False)(remind_fitness_reviews)
register("kept locations", urgent=False)(purge_kept_locations)
