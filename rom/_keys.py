"""KeySpace: every Redis key name rom uses, built here and nowhere else.

The layout is rom 1.1.2's (docs/data_layout.rst). Scripts never build a key
from a bare namespace: they get key names, or the ``(before, after)``
templates of :meth:`KeySpace.template` (``before + name + after``), for
entries named by an entity's stored index record. ``slot_group`` tells
which models share a Redis Cluster hash slot (the namespace's hash tag).
"""

from __future__ import annotations

import binascii
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "INDEX_SUFFIXES",
    "TEMPLATE_KINDS",
    "UNTAGGED",
    "KeySpace",
    "glob_escape",
    "has_hash_tag",
    "hash_tag",
    "lock_key",
    "partition_index",
    "partition_keyspaces",
    "partitions_scan_pattern",
    "slot_group",
]

# The key kinds scripts get a (before, after) template of: "row" <ns>:<id>,
# then the index kinds <ns>:<name>:<kind>.
TEMPLATE_KINDS = ("row", "idx", "pre", "suf", "geo", "uidx")


@dataclass(frozen=True, slots=True)
class KeySpace:
    """The key names of one model, from its namespace and primary-key name."""

    namespace: str
    pk: str = "id"
    # A partition of a partitioned model (rom/_partitions.py) takes the ids
    # ``n * id_stride + id_offset`` for n = 1, 2, ... from its own counter,
    # so the partitions' ids never meet; an unpartitioned model counts 1, 2, ...
    id_stride: int = 1
    id_offset: int = 0

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

    def template(self, kind: str) -> tuple[str, str]:
        """``(before, after)`` such that a key of ``kind`` (one of
        ``TEMPLATE_KINDS``) is ``before + name + after``: ``name`` is the
        id for ``row``, the index name for the others. Every such key
        method below is built from it, and scripts get it to name the
        entries of a stored index record."""
        if kind == "row":
            return self.row_prefix, ""
        if kind not in INDEX_SUFFIXES:
            raise ValueError(
                f"no key template of kind {kind!r}; one of {TEMPLATE_KINDS}"
            )
        return self.row_prefix, f":{kind}"

    def _key(self, kind: str, name: object) -> str:
        before, after = self.template(kind)
        return f"{before}{name}{after}"

    def script_keys(self) -> dict[str, object]:
        """The key table a script gets for this model: a ``[before, after]``
        template per kind of ``TEMPLATE_KINDS``, and the full names of the
        id counter (``counter``) and legacy record hash (``legacy``)."""
        table: dict[str, object] = {k: list(self.template(k)) for k in TEMPLATE_KINDS}
        table["counter"] = self.counter
        table["legacy"] = self.legacy_index
        if self.id_stride != 1:
            table["stride"] = self.id_stride
            table["offset"] = self.id_offset
        return table

    def entity(self, id: object) -> str:
        """The HASH holding one entity: ``<ns>:<id>``."""
        return self._key("row", id)

    def entities(self, ids: Iterable[object]) -> list[str]:
        """``entity(id)`` of each id (with one attribute look-up)."""
        namespace = self.namespace
        return [f"{namespace}:{id}" for id in ids]

    @property
    def counter(self) -> str:
        """The id counter STRING: ``<ns>:<pk>:``."""
        return f"{self.namespace}:{self.pk}:"

    @property
    def legacy_index(self) -> str:
        """The pre-1.0 index-record HASH: ``<ns>::``."""
        return f"{self.namespace}::"

    @property
    def anchor(self) -> str:
        """A key of this model's hash slot (the id counter), declared in
        KEYS by scripts whose other keys come in ARGV, so that a cluster
        client routes them to the node of that slot."""
        return self.counter

    @property
    def probe(self) -> str:
        """``<ns>::probe``: a key of this model's slot that rom never writes.

        Scripts declare it in KEYS beside another key of the slot. While a
        Redis Cluster migrates the slot, a call with a missing key never
        runs: the source node answers ASK or TRYAGAIN, the importing node
        TRYAGAIN (a multi-key call with a key missing), until the slot has
        its new owner. So no script runs on half of a model's keys.
        """
        return f"{self.namespace}::probe"

    def index(self, name: str) -> str:
        """A numeric ZSET or token SET: ``<ns>:<attr>[:<token>]:idx``."""
        # template("idx") spelt out: every query builds these (the unit
        # tests check the two agree).
        return f"{self.namespace}:{name}:idx"

    def token(self, attr: str, token: str) -> str:
        """The SET of ids having ``token`` in ``attr``."""
        return f"{self.namespace}:{attr}:{token}:idx"  # template("idx")

    def prefix(self, attr: str) -> str:
        """The prefix ZSET of ``attr``: ``<ns>:<attr>:pre``."""
        return f"{self.namespace}:{attr}:pre"  # template("pre")

    def suffix(self, attr: str) -> str:
        """The suffix ZSET of ``attr``: ``<ns>:<attr>:suf``."""
        return self._key("suf", attr)

    def geo(self, name: str) -> str:
        """The geo ZSET of a geo index: ``<ns>:<name>:geo``."""
        return self._key("geo", name)

    def unique(self, columns: str) -> str:
        """The unique HASH of a column or ``c1:c2`` group: ``<ns>:<cols>:uidx``."""
        return self._key("uidx", columns)

    def claims(self, columns: str) -> str:
        """The HASH of a partitioned model's pending unique claims of a column
        or ``c1:c2`` group in this partition (rom/_claims.py), value ->
        ``<id>:<deadline ms>``: ``<ns>:<cols>:uclaim``. Only in the partition
        the value hashes to (``rom._partitions.value_partition``), beside
        its ``unique`` HASH."""
        return f"{self.row_prefix}{columns}:uclaim"

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

    @property
    def expiry(self) -> str:
        """The ZSET of a TTL model's expiring entities, id -> expiry time
        in Unix milliseconds: ``<ns>::expiry``.

        No other key has this shape: the only ``<ns>::``-prefixed keys are
        the legacy record hash ``<ns>::``, write records
        ``<ns>::write:<hex>`` and :attr:`expiry_data`; an index key ends in
        one of ``INDEX_SUFFIXES``, a row or UnsafeColumn key has a digit id
        after ``<ns>:``, the counter ends in ``:``.
        """
        return f"{self.namespace}::expiry"

    @property
    def expiry_data(self) -> str:
        """The HASH of what an expiring entity's cleanup needs that its row
        does not tell (its unique entries), id -> JSON: ``<ns>::expiry:data``."""
        return f"{self.namespace}::expiry:data"

    def expiry_keys(self, unsafe: list[str]) -> dict[str, object]:
        """The expiry part of a TTL model's script key table (``x``): the
        expiry ZSET and data HASH, and per UnsafeColumn ``attr`` the
        ``[before, after]`` of its key around the id."""
        return {
            "expiry": self.expiry,
            "data": self.expiry_data,
            "unsafe": [[self.row_prefix, f":{attr}"] for attr in unsafe],
        }

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
        return f"{self.namespace}:{_uuid4_text()}"

    @staticmethod
    def scratch_prefix(temp: str) -> str:
        """The prefix of a query's scratch keys ``<temp>:<n>`` (same slot)."""
        return f"{temp}:"

    @property
    def slot_group(self) -> str:
        """The hash-slot group of this model's keys (see ``slot_group``)."""
        return slot_group(self.namespace)

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

# The version (4) and variant (RFC 4122) bits of a uuid4, as uuid.UUID sets them.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def _uuid4_text() -> str:
    """``str(uuid.uuid4())`` without building a UUID (whose checks cost as
    much as the rest of a query's key names): every query makes one."""
    n = int.from_bytes(os.urandom(16), "big") & _UUID4_CLEAR | _UUID4_SET
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def hash_tag(key: str) -> str | None:
    """The hash tag of ``key`` by the Redis Cluster rule, or None.

    The tag is what lies between the first ``{`` and the first ``}`` after
    it, if that is not empty; a key with a tag is hashed on the tag alone.
    """
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1 : end]


# The group of every namespace without a hash tag: on a standalone server
# all of them can be written by one script.
UNTAGGED = ""


def slot_group(keys: KeySpace | str) -> str:
    """Which models' keys one script may touch together on a Redis Cluster.

    Models with the same group share a hash slot: their writes can be one
    atomic script. The group is the namespace's hash tag (``{a}user`` and
    ``{a}post`` are group ``a``); every namespace without a tag is in the
    one group ``UNTAGGED``, which is right on a standalone server (every
    key is on it) and on a cluster where the namespaces carry tags.
    """
    namespace = keys.namespace if isinstance(keys, KeySpace) else keys
    return _group_of(namespace)


@functools.cache
def _group_of(namespace: str) -> str:
    tag = hash_tag(namespace + ":")
    return UNTAGGED if tag is None else tag


def has_hash_tag(key: str) -> bool:
    """True if Redis Cluster hashes ``key`` by a hash tag (see :func:`hash_tag`)."""
    return hash_tag(key) is not None


# Redis Cluster's 16384 hash slots.
CLUSTER_SLOTS = 16384


def cluster_slot(key: str) -> int:
    """The Redis Cluster hash slot of ``key``: CRC16 (XMODEM) of its hash tag,
    or of the whole key without one, modulo 16384."""
    tag = hash_tag(key)
    data = (key if tag is None else tag).encode("utf-8")
    return binascii.crc_hqx(data, 0) % CLUSTER_SLOTS


def partition_namespace(namespace: str, index: int) -> str:
    """The namespace of partition ``index`` of a partitioned model on one
    server: ``<ns>~<index>`` (``user~3``, keys ``user~3:5``, ...)."""
    return f"{namespace}~{index}"


@functools.cache
def cluster_partition_namespace(namespace: str, index: int, count: int) -> str:
    """The namespace of partition ``index`` of ``count`` on a Redis Cluster:
    ``{<ns>~<index>~<n>}``, a hash tag whose slot lies in the ``index``-th of
    ``count`` equal ranges of the 16384 slots, for the smallest ``n >= 0``
    that puts it there. A cluster whose masters serve equal runs of slots (as
    ``redis-cli --cluster create`` assigns them) then holds an equal share
    of the partitions on each master."""
    low = index * CLUSTER_SLOTS // count
    high = (index + 1) * CLUSTER_SLOTS // count
    base = partition_namespace(namespace, index)
    n = 0
    while True:
        tag = f"{base}~{n}"
        if low <= binascii.crc_hqx(tag.encode("utf-8"), 0) % CLUSTER_SLOTS < high:
            return "{" + tag + "}"
        n += 1


def partitions_scan_pattern(namespace: str) -> str:
    """A SCAN MATCH pattern for the keys of every partition of a partitioned
    model on one server: ``<ns>~*`` (glob-escaped). It may match other keys
    too; :func:`partition_index` tells a partition's key."""
    return glob_escape(namespace) + "~*"


def partition_index(namespace: str, key: str) -> int | None:
    """The partition ``i`` of ``key`` if it lies under ``<ns>~<i>:`` (a
    partition's namespace on one server), else None."""
    head = f"{namespace}~"
    if not key.startswith(head):
        return None
    digits, sep, _ = key[len(head) :].partition(":")
    if not sep or not (digits.isdigit() and digits.isascii()):
        return None
    if str(int(digits)) != digits:
        return None
    return int(digits)


def partition_keyspaces(
    namespace: str, pk: str, count: int, *, cluster: bool
) -> tuple[KeySpace, ...]:
    """The KeySpace of each of a partitioned model's ``count`` partitions,
    for one server (``cluster=False``) or a Redis Cluster. Partition ``i``
    takes the ids ``n * count + i``: an id's partition is ``id % count``."""
    return tuple(
        KeySpace(
            cluster_partition_namespace(namespace, i, count)
            if cluster
            else partition_namespace(namespace, i),
            pk,
            count,
            i,
        )
        for i in range(count)
    )


def glob_escape(text: str) -> str:
    """``text`` with the glob characters of SCAN MATCH escaped."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def lock_key(name: str) -> str:
    """The key of a ``rom.util.Lock`` named ``name``: ``lock:<name>``."""
    return f"lock:{name}"
