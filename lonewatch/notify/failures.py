"""How a transport says a message did not go: whether trying again could help.

Their own module, so that the transports and the push sender both use them without
importing each other."""


class TemporaryFailure(Exception):
    """Worth trying again later (a server down, a timeout, a rate limit)."""


class PermanentFailure(Exception):
    """Trying again will not help (a refused address, a rejected request)."""
