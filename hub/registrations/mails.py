"""The e-mails a registrant or a registered camera's owner gets. Every registration e-mail carries the private
manage link; a request's e-mail carries its single-use upload link, the window, the case's public reference and
the agency — never the analyst's reason text, which may name people."""

from __future__ import annotations

import datetime as dt

from hub.mail import Mail
from hub.settings import HubSettings


def manage_url(settings: HubSettings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/registration/{token}"


def upload_url(settings: HubSettings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/upload/{token}"


def _footer(settings: HubSettings, token: str) -> str:
    return (f"\n\nYour registration, privately: {manage_url(settings, token)}\n"
            "Open it at any time to see, change or delete your registration (deleting removes your name, e-mail, "
            "phone, address and cameras from the hub). Keep this link to yourself: anyone with it can change your "
            "registration.\n")


def confirm_mail(settings: HubSettings, to: str, token: str) -> Mail:
    return Mail((to,), "Confirm your camera registration",
                f"Someone (we hope you) registered cameras with {settings.agency_name} using this e-mail address. "
                "Nothing counts until you confirm: open the link below and press \"Confirm\". If it was not you, "
                "ignore this e-mail or delete the registration from the same page." + _footer(settings, token))


def reminder_mail(settings: HubSettings, to: str, token: str, by: dt.datetime) -> Mail:
    return Mail((to,), "Is your camera registration still right?",
                f"A year ago you registered cameras with {settings.agency_name}. Please open the link below and "
                f"re-confirm (or change or delete) your registration by {by:%Y-%m-%d}; after that your cameras "
                "are no longer offered to investigators until you do." + _footer(settings, token))


def request_mail(settings: HubSettings, to: str, *, link_token: str, manage_token: str, reference: str,
                 window: tuple[dt.datetime, dt.datetime], camera: str, expires_at: dt.datetime) -> Mail:
    return Mail((to,), f"{settings.agency_name} asks for footage (case {reference})",
                f"{settings.agency_name} asks whether your camera \"{camera}\" recorded anything between "
                f"{window[0]:%Y-%m-%d %H:%M} and {window[1]:%Y-%m-%d %H:%M} UTC, for case {reference}.\n\n"
                f"If you are willing, upload the footage you choose here (the link works once, until "
                f"{expires_at:%Y-%m-%d %H:%M} UTC):\n{upload_url(settings, link_token)}\n\n"
                "You can also decline on that page with one click. You are not obliged to share anything."
                + _footer(settings, manage_token))
