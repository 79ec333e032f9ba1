"""Files that are evidence, encrypted at rest (REC-02, Q-SEC).

Alarm audio and amber voice memos are evidence for prosecutions and personal data about
the people recorded. They are kept through Django's storage API (the ``recordings``
storage: the filesystem by default, created readable by the service account only, or
S3-compatible object storage through django-storages; see docs/configuration.md), and
every byte written is encrypted first with Fernet (AES-128-CBC and HMAC-SHA256, from the
``cryptography`` library). The keys come from ``LONEWATCH_RECORDING_KEY``: the first
encrypts, every key listed decrypts: to rotate, put a new key first and keep the old ones
listed for as long as files they encrypted are kept (at most the longest retention period
and any legal hold; see docs/retention.md).

A file is written once under a name nobody else can take (the caller's record owns it)
and read whole: a slice of audio is at most ``ALARM_AUDIO_CHUNK_BYTES``.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages

STORAGE = "recordings"


class VaultError(Exception):
    """A stored file cannot be read: it is missing, or no configured key opens it."""


@cache
def _keys() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.RECORDING_KEYS])


def storage():
    return storages[STORAGE]


def save(name: str, data: bytes) -> str:
    """Encrypt ``data`` and store it as ``name``; returns the name it was stored under
    (the storage may change it if ``name`` was taken)."""
    return storage().save(name, ContentFile(_keys().encrypt(data)))


def read(name: str) -> bytes:
    try:
        with storage().open(name, "rb") as stored:
            token = stored.read()
    except FileNotFoundError as missing:
        raise VaultError(f"{name} is not in the recordings store") from missing
    try:
        return _keys().decrypt(token)
    except InvalidToken as unreadable:
        raise VaultError(f"No configured recording key opens {name}: was a key removed "
                         "from LONEWATCH_RECORDING_KEY too soon?") from unreadable


def delete(name: str) -> None:
    """Delete the stored file; deleting one that is already gone is not an error."""
    storage().delete(name)


def exists(name: str) -> bool:
    return storage().exists(name)
