"""The client's address behind trusted reverse proxies, for the login lockout (django-axes)."""

from django.conf import settings


def client_ip(request):
    """REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the outermost one saw.

    Each proxy appends the address it got the request from to X-Forwarded-For, so the last
    TRUSTED_PROXY_COUNT entries are ours and anything left of them was written by the client.
    A request with fewer entries did not come through the proxies: REMOTE_ADDR.
    """
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    forwarded = [address.strip() for address in forwarded if address.strip()]
    if count and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR")
