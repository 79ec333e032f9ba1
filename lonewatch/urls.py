from django.urls import path, re_path

from lonewatch.accounts import views as accounts
from lonewatch.alarms import report as alarm_report
from lonewatch.alarms import views as alarms
from lonewatch.api.urls import api, unknown_endpoint
from lonewatch.escalation import locate
from lonewatch.escalation import views as escalation
from lonewatch.letters import views as letters
from lonewatch.notify import views as notify
from lonewatch.recordings import views as recordings
from lonewatch.visits import views as visits
from lonewatch.web import console, my_day, watching
from lonewatch.web import views as web

urlpatterns = [
    path("", web.home, name="home"),
    path("login", accounts.login_view, name="login"),
    path("logout", accounts.logout_view, name="logout"),
    path("account/two-factor", accounts.two_factor, name="two_factor"),
    path("account/two-factor/enrol/<str:token>", accounts.enrolment_link,
         name="two_factor_enrol_link"),
    path("password/reset", accounts.PasswordResetRequestView.as_view(), name="password_reset"),
    path("password/reset/sent", accounts.PasswordResetSentView.as_view(),
         name="password_reset_done"),
    path("password/set/<uidb64>/<token>", accounts.SetPasswordView.as_view(),
         name="password_reset_confirm"),
    path("password/done", accounts.PasswordSetView.as_view(), name="password_reset_complete"),
    path("people/", web.people, name="people"),
    path("people/<int:person_id>/", web.person_detail, name="person"),
    path("people/<int:person_id>/next-of-kin", web.person_next_of_kin, name="person_kin"),
    path("people/<int:person_id>/fitness", web.person_fitness, name="person_fitness"),
    path("people/<int:person_id>/two-factor-enrolment", web.person_enrolment,
         name="person_enrolment"),
    path("people/<int:person_id>/accept-buddy", web.buddy_accept, name="buddy_accept"),
    path("people/<int:person_id>/absences", web.person_absence_add, name="person_absence_add"),
    path("people/<int:person_id>/absences/<int:absence_id>/remove", web.person_absence_remove,
         name="person_absence_remove"),
    path("teams/", web.teams, name="teams"),
    path("teams/<int:team_id>/", web.team_detail, name="team"),
    path("teams/<int:team_id>/escalation-policy", escalation.team_policy, name="team_policy"),
    path("teams/<int:team_id>/escalation-policy/follow-default",
         escalation.team_policy_follow_default, name="team_policy_follow_default"),
    path("escalation-policy", escalation.default_policy, name="default_policy"),
    path("profile/", web.profile, name="profile"),
    path("profile/contact", web.profile_contact, name="profile_contact"),
    path("profile/next-of-kin", web.profile_kin_add, name="profile_kin_add"),
    path("profile/next-of-kin/<int:kin_id>/remove", web.profile_kin_remove,
         name="profile_kin_remove"),
    path("profile/tokens", web.profile_token_create, name="profile_token_create"),
    path("profile/tokens/<int:token_id>/revoke", web.profile_token_revoke,
         name="profile_token_revoke"),
    path("audit/", web.audit_trail, name="audit"),
    path("my-day/", my_day.my_day, name="my_day"),
    path("my-day/start", my_day.start, name="session_start"),
    path("my-day/alert/<str:kind>", alarms.raise_alert, name="raise_alert"),
    path("my-day/alarms/<int:alarm_id>/cancel", alarms.cancel_alert, name="cancel_alert"),
    path("my-day/alarms/<int:alarm_id>/audio", alarms.alarm_audio, name="alarm_audio"),
    path("my-day/alarms/<int:alarm_id>/locations", alarms.alarm_location,
         name="alarm_location"),
    path("sessions/<int:session_id>/", visits.session_detail, name="session"),
    path("sessions/<int:session_id>/check-in", my_day.check_in, name="session_check_in"),
    path("sessions/<int:session_id>/extend", my_day.extend, name="session_extend"),
    path("sessions/<int:session_id>/end", my_day.end, name="session_end"),
    path("sessions/<int:session_id>/locate", locate.locate_summary, name="locate_summary"),
    path("escalations/<int:escalation_id>/", escalation.escalation_detail, name="escalation"),
    path("escalations/<int:escalation_id>/acknowledge", escalation.acknowledge,
         name="escalation_acknowledge"),
    path("escalations/<int:escalation_id>/resolve", escalation.resolve, name="escalation_resolve"),
    path("buddy/", watching.buddy, name="buddy"),
    path("console/", console.console, name="console"),
    path("reports/alarms", alarm_report.alarm_report, name="alarm_report"),
    path("console/fragment", console.console_fragment, name="console_fragment"),
    path("console/events", console.console_events, name="console_events"),
    path("console/duty", alarms.duty, name="console_duty"),
    path("console/alarms/<int:alarm_id>/<str:action>", alarms.act, name="console_act"),
    path("board/", watching.board, name="board"),
    path("board/fragment", watching.board_fragment, name="board_fragment"),
    path("board/events", watching.board_events, name="board_events"),
    path("profile/pin", visits.set_pin, name="profile_pin"),
    path("profile/duress-pin", visits.set_duress_pin, name="profile_duress_pin"),
    path("profile/location-consent", visits.location_consent, name="profile_location"),
    path("recordings/", recordings.kept, name="recordings_kept"),
    path("recordings/reviews/", recordings.review_queue, name="review_queue"),
    path("recordings/destroyed/", recordings.destroyed, name="recordings_destroyed"),
    path("recordings/alarms/<int:alarm_id>/", recordings.case, name="recording_case"),
    path("recordings/alarms/<int:alarm_id>/review", recordings.decide, name="recording_decide"),
    path("recordings/alarms/<int:alarm_id>/exemption", recordings.agree_exemption,
         name="recording_exemption"),
    path("recordings/alarms/<int:alarm_id>/holds", recordings.place_hold, name="recording_hold"),
    path("recordings/holds/<int:hold_id>/release", recordings.release_hold,
         name="recording_release"),
    path("recordings/letters/<int:letter_id>", recordings.letter, name="recording_letter"),
    path("letters/templates", letters.templates, name="letter_templates"),
    path("healthz", web.healthz, name="healthz"),
    path("manifest.webmanifest", notify.manifest, name="manifest"),
    path("sw.js", notify.service_worker, name="service_worker"),
    path("profile/push-key", notify.push_key, name="push_key"),
    path("profile/push", notify.push_subscribe, name="push_subscribe"),
    path("profile/test-message", notify.test_message, name="test_message"),
    path("confirm/<uuid:key>", notify.confirm, name="channel_confirm"),
    path("notify/callback", notify.notify_callback, name="notify_callback"),
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", unknown_endpoint),
]

handler403 = "lonewatch.web.errors.forbidden"
handler404 = "lonewatch.web.errors.not_found"
handler500 = "lonewatch.web.errors.server_error"
