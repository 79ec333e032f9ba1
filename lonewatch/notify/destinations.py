"""Where Lonewatch itself connects: the push services of people's phones, and webhook
receivers (Q-SEC).

Both addresses come from outside: a phone's browser gives its push endpoint, an
administrator a webhook's URL. Unchecked, anyone who can save one could make the
worker call this machine, or the trust's own network, every few seconds. So an
address is checked when it is saved and again every time a message goes to it:

- only ``https://`` (a webhook may use ``http://`` when LONEWATCH_WEBHOOK_ALLOW_HTTP
  says so, for a test receiver);
- the name is looked up once, and every address it leads to must be on the public
  internet: not loopback, private, shared, link-local, multicast, reserved or
  unspecified, in IPv4 or IPv6, nor an IPv4 address of that kind carried inside IPv6
  (``::ffff:127.0.0.1``);
- the connection goes to the address that was checked, while the ``Host`` header, the
  TLS server name and the certificate check keep the name, so a name that answers
  differently the next time (DNS rebinding) gains nothing;
- a redirect is never followed, and no proxy is used (it would look the name up again).

A webhook may also reach the networks an operator lists in
LONEWATCH_WEBHOOK_ALLOWED_NETWORKS (an internal alarm-centre receiver). A push
endpoint never may: browsers' push services are on the public internet.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"https": 443, "http": 80}


class RefusedDestination(ValueError):
    """Lonewatch will not call this address; the message says why, in plain words."""


class LookupFailed(RefusedDestination):
    """The name could not be looked up just now: when sending, worth trying again."""


@dataclass(frozen=True)
class Destination:
    """A checked address: the URL to send to, and the address to connect to."""

    url: str
    scheme: str
    host: str  # as the URL names it: a name, or an address (IPv6 without brackets)
    port: int
    address: str  # the checked address the connection goes to

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


# Ranges that are not the public internet, in words an administrator can act on. The
# first match names the range; anything else that is not global is refused as well.
NOT_PUBLIC = [(ipaddress.ip_network(network), what) for network, what in [
    ("0.0.0.0/8", "the unspecified address, which means this machine"),
    ("10.0.0.0/8", "a private network address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address (this machine)"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private network address"),
    ("192.0.0.0/24", "an address reserved for protocols"),
    ("192.0.2.0/24", "an address reserved for documentation"),
    ("192.168.0.0/16", "a private network address"),
    ("198.18.0.0/15", "an address reserved for network testing"),
    ("198.51.100.0/24", "an address reserved for documentation"),
    ("203.0.113.0/24", "an address reserved for documentation"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "the unspecified address, which means this machine"),
    ("::1/128", "a loopback address (this machine)"),
    ("::/8", "a reserved address"),
    ("64:ff9b:1::/48", "a private network address (local NAT64)"),
    ("100::/64", "an address that discards what is sent to it"),
    ("2001:db8::/32", "an address reserved for documentation"),
    ("fc00::/7", "a private network address (unique local)"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a private network address (site-local)"),
    ("ff00::/8", "a multicast address"),
]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _inner_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to: IPv4-mapped (``::ffff:a.b.c.d``),
    NAT64 (``64:ff9b::a.b.c.d``) or 6to4 (``2002:aabb:ccdd::``)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def why_not_public(ip: Address) -> str | None:
    """What kind of address ``ip`` is, if it is not on the public internet; else None."""
    if ip.version == 6:
        inner = _inner_ipv4(ip)
        if inner is not None:
            why = why_not_public(inner)
            return None if why is None else f"{why}, in IPv6 form"
    for network, what in NOT_PUBLIC:
        if ip in network:
            return what
    if not ip.is_global:
        return "not an address on the public internet"
    return None


def _allowed(ip: Address, networks) -> bool:
    plain = ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped is not None else ip
    return any(plain in network for network in networks)


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def _look_up(host: str, port: int) -> list[Address]:
    """Every address ``host`` leads to, in the order the system prefers them."""
    if host == "localhost" or host.endswith(".localhost"):
        # RFC 6761: these names are this machine, whatever a resolver answers.
        return [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise LookupFailed(f"{host} could not be looked up ({error}).") from None
    found: list[Address] = []
    for *_, sockaddr in answers:
        ip = ipaddress.ip_address(sockaddr[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise LookupFailed(f"{host} could not be looked up (no address).")
    return found


def _check(url: str, *, what: str, schemes: tuple[str, ...], allowed=(), hint: str = ""
           ) -> Destination:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        raise RefusedDestination(f"{what} is not a valid address: {url[:100]!r}.") from None
    if scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise RefusedDestination(f"{what} must start with {wanted}, not {url[:100]!r}.")
    try:
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, None)  # the URL as it will be sent (an IDN as ASCII)
        parts = urlsplit(prepared.url)
        host, port = parts.hostname, parts.port or DEFAULT_PORTS[scheme]
    except (requests.RequestException, ValueError):
        raise RefusedDestination(f"{what} is not a valid address: {url[:100]!r}.") from None
    if not host:
        raise RefusedDestination(f"{what} must name a host: {url[:100]!r}.")
    addresses = _look_up(host, port)
    for ip in addresses:
        if _allowed(ip, allowed):
            continue
        why = why_not_public(ip)
        if why is not None:
            where = f"{host} leads to {ip}, {why}" if _is_name(host) else f"{host} is {why}"
            raise RefusedDestination(f"{what} must be on the public internet: {where}."
                                     f"{hint}")
    return Destination(url=prepared.url, scheme=scheme, host=host, port=port,
                       address=str(addresses[0]))


def check_push_endpoint(url: str) -> Destination:
    """A phone's push endpoint, checked: https, on the public internet."""
    return _check(url, what="A phone's push address", schemes=("https",))


def check_webhook_url(url: str) -> Destination:
    """A webhook's URL, checked: https (http only if allowed for testing), on the public
    internet or in a network the operator allowed."""
    schemes = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    return _check(url, what="A webhook address", schemes=schemes,
                  allowed=settings.WEBHOOK_ALLOWED_NETWORKS,
                  hint=" To reach a receiver inside the trust's network, an operator lists "
                       "its network in LONEWATCH_WEBHOOK_ALLOWED_NETWORKS.")


class _PinnedAdapter(HTTPAdapter):
    """Sends every request to the checked address, and to no other host."""

    def __init__(self, destination: Destination):
        self.destination = destination
        super().__init__(max_retries=0)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        target = urlsplit(request.url)
        port = target.port or DEFAULT_PORTS.get(target.scheme)
        checked = self.destination
        if (target.scheme, target.hostname, port) != (checked.scheme, checked.host,
                                                      checked.port):
            raise requests.exceptions.InvalidURL(
                f"only {checked.url} was checked, not {request.url}", request=request)
        request.headers["Host"] = checked.host_header
        # No proxy: a proxy would look the name up again, and could be led anywhere.
        return super().send(request, stream=stream, timeout=timeout, verify=verify,
                            cert=cert, proxies={})

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        where, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if where["scheme"] == "https":
            # TLS names, and checks the certificate for, the host in the URL.
            pool_kwargs = pool_kwargs | {"server_hostname": self.destination.host}
        return self.poolmanager.connection_from_host(
            host=self.destination.address, port=self.destination.port,
            scheme=where["scheme"], pool_kwargs=pool_kwargs)


class _NoRedirects(requests.Session):
    def send(self, request, **kwargs):
        # A redirect could lead anywhere: the caller sees the 3xx and treats it as a failure.
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


def session_for(destination: Destination) -> requests.Session:
    """A requests session that reaches ``destination`` at its checked address only."""
    session = _NoRedirects()
    adapter = _PinnedAdapter(destination)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def post(destination: Destination, *, data: bytes, headers: dict, timeout: float
         ) -> requests.Response:
    with session_for(destination) as session:
        return session.post(destination.url, data=data, headers=headers, timeout=timeout)
