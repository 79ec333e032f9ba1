import base64

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from lonewatch import clock
from lonewatch.accounts import actions
from lonewatch.accounts.forms import LoginForm, NewPasswordForm, ResetRequestForm, TotpForm
from lonewatch.accounts.middleware import second_factor_exempt
from lonewatch.accounts.tokens import set_password_links
from lonewatch.core.middleware import client_address


@login_not_required
def login_view(request):
    return auth_views.LoginView.as_view(
        template_name="accounts/login.html",
        authentication_form=LoginForm,
        redirect_authenticated_user=True,
    )(request)


def locked_out(request, response=None, credentials=None, *args, **kwargs):
    """django-axes calls this when a username has failed too often."""
    minutes = round(settings.AXES_COOLOFF_TIME * 60)
    return render(
        request, "accounts/locked_out.html", {"minutes": minutes}, status=429
    )


@require_POST
@second_factor_exempt
def logout_view(request):
    logout(request)
    messages.info(request, "You have signed out.")
    return redirect("login")


def _safe_next(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "landing"


def _enrolment(request):
    """The grant with which this browser may set up a first authenticator app: one it
    claimed (from an emailed link, or an administrator's opening), else an
    administrator's opening that is waiting."""
    grant = actions.claimed_enrolment(request.user,
                                      request.session.get(actions.ENROLMENT_SESSION_KEY))
    if grant is None:
        grant = actions.do_claim_open_enrolment(request.user)
        if grant is not None:
            request.session[actions.ENROLMENT_SESSION_KEY] = grant.pk
    return grant


def _enrolment_needed(request):
    """ORG-06: a password alone does not set up a second factor. Say what will, and send
    the link by email (once; again on request)."""
    user = request.user
    address = actions.enrolment_address(user)
    sent = actions.live_enrolment_link(user)
    if request.method == "POST" and request.POST.get("send"):
        try:
            actions.do_send_enrolment_link(user)
        except actions.EnrolmentError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "A new link is on its way. Only the newest link works.")
        return redirect("two_factor")
    problem = None
    if sent is None and address:
        try:
            sent = actions.do_send_enrolment_link(user)
        except actions.EnrolmentError as error:
            problem = str(error)
    return render(request, "accounts/enrolment_needed.html", {
        "address": actions.masked(address) if address else "", "sent": sent,
        "problem": problem, "hours": settings.ENROLMENT_OPEN_HOURS,
    })


@second_factor_exempt
def two_factor(request):
    """Verify the second factor, or enrol an authenticator app the first time: only with
    an emailed link or after an administrator opened enrolment (ORG-06)."""
    user = request.user
    if user.is_verified():
        return redirect(_safe_next(request))
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    grant = None
    if device is None:
        grant = _enrolment(request)
        if grant is None:
            return _enrolment_needed(request)
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Authenticator app",
                                               confirmed=False)
    enrolling = grant is not None
    form = TotpForm(request.POST or None)
    allowed, why = device.verify_is_allowed()
    if request.method == "POST" and not allowed:
        wait = ""
        if why and why.get("locked_until"):
            seconds = max(1, int((why["locked_until"] - clock.now()).total_seconds()) + 1)
            wait = f" Wait {seconds} seconds and try again."
        form.is_valid()
        form.add_error(None, "Too many wrong codes." + wait)
    elif request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            if enrolling:
                try:
                    actions.do_enrol_authenticator(user, device=device, grant=grant)
                except actions.EnrolmentError as error:
                    messages.error(request, str(error))
                    return redirect("two_factor")
                request.session.pop(actions.ENROLMENT_SESSION_KEY, None)
            otp_login(request, device)
            return redirect(_safe_next(request))
        form.add_error("code", "That code is not right. Check the time on your phone and "
                               "enter the 6 digits shown now.")
    context = {"form": form, "enrolling": enrolling, "next": _safe_next(request)}
    if enrolling:
        context["qr_svg"] = segno.make(device.config_url, error="m").svg_inline(
            scale=5, title="QR code for your authenticator app"
        )
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "accounts/two_factor.html", context)


@second_factor_exempt
def enrolment_link(request, token):
    """ORG-06: the link emailed to the account. Opened by its owner, signed in, it lets
    this browser set up the authenticator app; it works once."""
    try:
        grant = actions.do_claim_enrolment_link(request.user, token)
    except actions.EnrolmentError as error:
        return render(request, "accounts/enrolment_link.html", {"problem": str(error)},
                      status=400)
    request.session[actions.ENROLMENT_SESSION_KEY] = grant.pk
    return redirect("two_factor")


# ORG-06: "Forgotten your password?", and the page an invitation's link opens. Django's
# password-reset views, with Lonewatch's pages, limits and sending.


class PasswordResetRequestView(auth_views.PasswordResetView):
    """Ask for a link to set a password. Whether or not an account has the address, the
    answer is the same page, as fast: the worker sends the email, if there is anyone to
    send it to."""

    template_name = "accounts/password_reset.html"
    form_class = ResetRequestForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {
            "lasts": actions.lasts(settings.PASSWORD_RESET_TIMEOUT)}

    def form_valid(self, form):
        try:
            actions.do_request_password_reset(form.cleaned_data["email"],
                                              client_ip=client_address(self.request))
        except actions.TooManyResetRequests:
            form.add_error(None, "You have asked for too many links. Wait an hour and try "
                                 "again, or ask your administrator to help you sign in.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {
            "lasts": actions.lasts(settings.PASSWORD_RESET_TIMEOUT)}


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """Choose a password from a reset or invitation link. Django's view: it moves the
    token out of the address into the session before showing the form, so it cannot
    leak in a Referer header. The person signs in afterwards as usual, so a privileged
    role still gives its second factor."""

    template_name = "accounts/password_set.html"
    form_class = NewPasswordForm
    token_generator = set_password_links

    def form_valid(self, form):
        actions.do_set_password_from_link(self.user,
                                          password=form.cleaned_data["new_password1"])
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())

    def render_to_response(self, context, **response_kwargs):
        if not self.validlink:
            response_kwargs.setdefault("status", 400)  # an expired, used or broken link
        return super().render_to_response(context, **response_kwargs)


class PasswordSetView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_set_done.html"
