"""Which webhook URLs are acceptable: http(s) to a host that does not resolve to a link-local address.

169.254.0.0/16 and fe80::/10 hold cloud metadata services (credentials of the machine):
a webhook must never reach them. The host is resolved when the subscription is added and
again before every send (a name may be pointed elsewhere later).
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from flask_babel import gettext as _

URL_MAX = 2000


class RefusedUrl(ValueError):
    """A webhook URL that may not be used; the message says why, in the user's language."""


def addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address the host resolves to (an IP literal is its own); socket.gaierror when none."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def is_link_local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:169.254.169.254
    return address.is_link_local or (mapped is not None and mapped.is_link_local)


def check_url(url: str) -> str:
    """The URL, stripped, when acceptable; else RefusedUrl."""
    url = (url or "").strip()
    if not url:
        raise RefusedUrl(_("Give the URL to send events to."))
    if len(url) > URL_MAX or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise RefusedUrl(_("The URL is too long or contains spaces or control characters."))
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        raise RefusedUrl(_("The URL is malformed.")) from None
    if parts.scheme not in ("http", "https") or not host:
        raise RefusedUrl(_("Only http:// and https:// URLs with a host can receive webhooks."))
    check_host(host)
    return url


def check_host(host: str) -> None:
    """RefusedUrl when the host does not resolve or resolves to a link-local (metadata) address."""
    try:
        found = addresses(host)
    except (socket.gaierror, UnicodeError, ValueError):
        raise RefusedUrl(_("The host %(host)s does not resolve.", host=host)) from None
    if any(is_link_local(a) for a in found):
        raise RefusedUrl(_("The host %(host)s resolves to a link-local address (169.254.0.0/16 or fe80::/10, "
                           "where cloud metadata lives): refused.", host=host))
