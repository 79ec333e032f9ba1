from lonewatch.visits.actions import remind_fitness_reviews, send_reminders
from lonewatch.worker.loop import register

register("reminders")(send_reminders)
register("fitness reviews")(remind_fitness_reviews)
