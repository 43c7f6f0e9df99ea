"""Errors that reach a person: Sentry, when SENTRY_DSN is set (ADMINS mail is Django's own).

Every event is scrubbed before it leaves: the API key (and SECRET_KEY) wherever it appears,
and every IMEI (15 digits standing alone), in messages, stack variables, request data and
breadcrumbs alike. Sentry's own scrubber already drops cookies and authorization headers
(`send_default_pii` stays off).
"""

import re

IMEI = re.compile(r"(?<!\d)\d{15}(?!\d)")
IMEI_MASK = "[IMEI]"
SECRET_MASK = "[Filtered]"


def scrubbed(value, secrets):
    """`value` (any JSON-like structure) with the secrets and IMEIs masked."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, SECRET_MASK)
        return IMEI.sub(IMEI_MASK, value)
    if isinstance(value, dict):
        return {key: scrubbed(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(item, secrets) for item in value]
    return value


def before_send(secrets):
    """Sentry's `before_send` and `before_send_transaction` hook, masking `secrets`."""
    secrets = [secret for secret in secrets if secret]

    def scrub(event, hint):
        return scrubbed(event, secrets)

    return scrub


def init_sentry(dsn, environment, secrets):
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    scrub = before_send(secrets)
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        before_send=scrub,
        before_send_transaction=scrub,
        before_breadcrumb=scrub,
    )
