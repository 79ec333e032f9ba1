"""How a transport says a message did not go: every transport raises one of these."""


class TemporaryFailure(Exception):
    """Worth trying again later (a server down, a timeout, a rate limit)."""


class PermanentFailure(Exception):
    """Trying again will not help (a refused address, a rejected request)."""
