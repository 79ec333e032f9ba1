from lonewatch.accounts.actions import send_password_emails
from lonewatch.worker.loop import register

# Set-password emails wait behind missed check-ins and alarms in each pass.
register("password_emails", urgent=False)(send_password_emails)
