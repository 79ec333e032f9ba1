from lonewatch.visits.actions import (
    prompt_planned_visits,
    purge_kept_locations,
    remind_fitness_reviews,
    send_reminders,
    tell_buddies_of_no_shows,
)
from lonewatch.worker.loop import register

register("reminders")(send_reminders)
register("planned visits not started")(prompt_planned_visits)
register("no-shows")(tell_buddies_of_no_shows)
# Nobody's safety waits on a review reminder: it runs after the urgent scanners.
register("fitness reviews", urgent=False)(remind_fitness_reviews)
register("kept locations", urgent=False)(purge_kept_locations)
