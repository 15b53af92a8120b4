"""KeySpace: every Redis key name rom uses, built here and nowhere else.

The layout is rom 1.1.2's (docs/data_layout.rst); the Lua writer mirrors the
index-key rules of ``index``/``token``/``prefix``/``suffix``/``geo`` for
entries named by an entity's stored index record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

__all__ = ["INDEX_SUFFIXES", "KeySpace", "glob_escape", "has_hash_tag", "lock_key"]


@dataclass(frozen=True, slots=True)
class KeySpace:
    """The key names of one model, from its namespace and primary-key name."""

    namespace: str
    pk: str = "id"

    # -- Redis Cluster placement ------------------------------------------------

    @property
    def hash_tagged(self) -> bool:
        """True if every key of this KeySpace hashes to one cluster slot: the
        namespace carries a hash tag (``{...}`` with something inside)."""
        return has_hash_tag(self.namespace)

    def for_cluster(self) -> KeySpace:
        """This KeySpace with its namespace wrapped in a hash tag, ``user`` ->
        ``{user}`` (so ``{user}:1``, ``{user}:email:uidx``, ...), unless it
        carries one already: then it is returned as it is."""
        if self.hash_tagged:
            return self
        return KeySpace("{" + self.namespace + "}", self.pk)

    @property
    def row_prefix(self) -> str:
        """``<ns>:``, the prefix of every entity row key."""
        return f"{self.namespace}:"

    def entity(self, id: object) -> str:
        """The HASH holding one entity: ``<ns>:<id>``."""
        return f"{self.namespace}:{id}"

    @property
    def counter(self) -> str:
        """The id counter STRING: ``<ns>:<pk>:``."""
        return f"{self.namespace}:{self.pk}:"

    @property
    def legacy_index(self) -> str:
        """The pre-1.0 index-record HASH: ``<ns>::``."""
        return f"{self.namespace}::"

    def index(self, name: str) -> str:
        """A numeric ZSET or token SET: ``<ns>:<attr>[:<token>]:idx``."""
        return f"{self.namespace}:{name}:idx"

    def token(self, attr: str, token: str) -> str:
        """The SET of ids having ``token`` in ``attr``."""
        return f"{self.namespace}:{attr}:{token}:idx"

    def prefix(self, attr: str) -> str:
        """The prefix ZSET of ``attr``: ``<ns>:<attr>:pre``."""
        return f"{self.namespace}:{attr}:pre"

    def suffix(self, attr: str) -> str:
        """The suffix ZSET of ``attr``: ``<ns>:<attr>:suf``."""
        return f"{self.namespace}:{attr}:suf"

    def geo(self, name: str) -> str:
        """The geo ZSET of a geo index: ``<ns>:<name>:geo``."""
        return f"{self.namespace}:{name}:geo"

    def unique(self, columns: str) -> str:
        """The unique HASH of a column or ``c1:c2`` group: ``<ns>:<cols>:uidx``."""
        return f"{self.namespace}:{columns}:uidx"

    def unsafe(self, id: object, attr: str) -> str:
        """The private key of an UnsafeColumn: ``<ns>:<id>:<attr>``."""
        return f"{self.namespace}:{id}:{attr}"

    def write_record(self, token: str) -> str:
        """The outcome of one write request, kept a while: ``<ns>::write:<token>``.

        ``token`` is a fresh hex uuid4 per request. No rom 1.1.2 key has this
        shape: its only ``<ns>::``-prefixed key is the legacy record hash
        ``<ns>::`` itself, and the last part (hex) is never an index suffix.
        """
        return f"{self.namespace}::write:{token}"

    def is_write_record(self, key: str) -> bool:
        """True if ``key`` is a write record of this namespace."""
        prefix = f"{self.namespace}::write:"
        token = key[len(prefix) :]
        return (
            key.startswith(prefix)
            and len(token) == 32
            and all(c in "0123456789abcdef" for c in token)
        )

    def temp(self) -> str:
        """A fresh temporary query key: ``<ns>:<uuid4>``."""
        return f"{self.namespace}:{uuid.uuid4()}"

    # -- reading key names back (maintenance scans) ---------------------------

    @property
    def scan_pattern(self) -> str:
        """A SCAN MATCH pattern for every key under ``<ns>:`` (glob-escaped)."""
        return glob_escape(self.row_prefix) + "*"

    def row_id(self, key: str) -> str | None:
        """The id if ``key`` is an entity row ``<ns>:<digits>``, else None."""
        rest = key[len(self.row_prefix) :] if key.startswith(self.row_prefix) else ""
        return rest if rest.isdigit() and rest.isascii() else None

    def unsafe_parts(self, key: str) -> tuple[str, str] | None:
        """``(id, attr)`` if ``key`` looks like ``<ns>:<id>:<attr>``, else None."""
        if not key.startswith(self.row_prefix):
            return None
        id, sep, attr = key[len(self.row_prefix) :].partition(":")
        if not sep or self.row_id(self.entity(id)) is None:
            return None
        if not attr.isidentifier() or attr in INDEX_SUFFIXES:
            return None
        return id, attr

    def index_parts(self, key: str) -> tuple[str, str] | None:
        """``(name, kind)`` if ``key`` is ``<ns>:<name>:<kind>``, kind one of
        idx, pre, suf, geo, uidx; ``name`` may contain ``:``."""
        if not key.startswith(self.row_prefix):
            return None
        name, sep, kind = key[len(self.row_prefix) :].rpartition(":")
        if not sep or not name or kind not in INDEX_SUFFIXES:
            return None
        return name, kind

    # -- many-to-many memberships -------------------------------------------

    def members(self, id: object, attr: str) -> str:
        """The SET of the ids related to one entity through the
        ManyToMany side ``attr``: ``<ns>:<id>:<attr>``."""
        return f"{self.namespace}:{id}:{attr}"

    def members_parts(self, attr: str) -> tuple[str, str]:
        """``(before, after)`` the id in :meth:`members` keys of ``attr``,
        for scripts that build the key of each id they are given."""
        return f"{self.namespace}:", f":{attr}"


INDEX_SUFFIXES = ("idx", "pre", "suf", "geo", "uidx")


def has_hash_tag(key: str) -> bool:
    """True if Redis Cluster hashes ``key`` by a hash tag: the part between
    the first ``{`` and the first ``}`` after it, if that part is not empty."""
    start = key.find("{")
    if start < 0:
        return False
    end = key.find("}", start + 1)
    return end > start + 1


def glob_escape(text: str) -> str:
    """``text`` with the glob characters of SCAN MATCH escaped."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def lock_key(name: str) -> str:
    """The key of a ``rom.util.Lock`` named ``name``: ``lock:<name>``."""
    return f"lock:{name}"
