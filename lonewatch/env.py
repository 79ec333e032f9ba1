"""Typed readers for environment variables.

Every setting Lonewatch takes from its environment is read through one of
these helpers. A value that cannot be understood stops start-up with a
message that names the variable, instead of running with a guess.
"""

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(Exception):
    """A configuration value is missing or cannot be understood."""


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, *, environ=None) -> str:
    value = _raw(name, environ)
    if value is None:
        if default is None:
            raise ConfigError(f"{name} must be set")
        return default
    return value


def env_bool(name: str, default: bool, *, environ=None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ=None,
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, not {number}")
    return number


def env_list(name: str, default: list[str], *, environ=None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...], *, environ=None) -> str:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value.lower()


def env_url(name: str, default: str, schemes: tuple[str, ...], *, environ=None) -> str:
    value = _raw(name, environ) or default
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        raise ConfigError(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}, "
            f"not {value!r}"
        )
    return value


def env_networks(name: str, *, environ=None) -> tuple[Network, ...]:
    """Comma-separated IPv4 or IPv6 networks (``10.20.0.0/16``, ``2001:db8::/32``); a bare
    address is a network of one. Empty unless set."""
    value = _raw(name, environ)
    if value is None:
        return ()
    networks = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError:
            raise ConfigError(
                f"{name} must list networks like 10.20.0.0/16 or 2001:db8::/32, with no "
                f"address bits after the prefix, not {item!r}"
            ) from None
        if network.prefixlen == 0:
            raise ConfigError(f"{name} must not allow every address ({item!r}): list only the "
                              "networks that must be reached")
        networks.append(network)
    return tuple(networks)
