"""``rom models`` and ``rom stats``: what the models are and what they take."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING
from typing import Any

from ._cli_app import pick_models
from ._footprint import Footprint
from ._footprint import footprint
from ._key_shapes import _keygen_kind
from ._keys import KeySpace
from .columns import Column
from .columns import PrimaryKey

if TYPE_CHECKING:
    from .model import Model

__all__ = ["add_inspect_commands"]


def add_inspect_commands(commands: Any) -> None:
    """Add ``models`` and ``stats`` to the subcommand parsers."""
    models = commands.add_parser(
        "models",
        help="each model: columns, indexes, key prefix, rows, memory",
        description="Describe each model: its columns, its index keys, its key "
        "prefix, its entity count and its approximate memory (sampled MEMORY USAGE).",
    )
    models.add_argument("models", nargs="*", metavar="MODEL")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(run=run_models)
    stats = commands.add_parser(
        "stats",
        help="per model: keys by kind, index entries, memory",
        description="Per model: its keys by kind, its index and unique entries "
        "and its memory (sampled MEMORY USAGE), then the totals.",
    )
    stats.add_argument("models", nargs="*", metavar="MODEL")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument(
        "--sample", type=int, default=50, help="keys measured per model (default 50)"
    )
    stats.set_defaults(run=run_stats)


def describe(model: type[Model]) -> dict[str, Any]:
    """A model's declaration as a JSON-ready dict."""
    info = model._meta
    keys = _shown_keys(model)
    columns = []
    for name, col in info.columns.items():
        flags = [
            flag
            for flag in ("required", "index", "unique", "prefix", "suffix")
            if getattr(col, flag, False) is True
        ]
        entry: dict[str, Any] = {
            "name": name,
            "type": type(col).__name__,
            "flags": flags,
        }
        if isinstance(col, Column) and col.index and not isinstance(col, PrimaryKey):
            entry["keygen"] = col._keygen_name
        columns.append(entry)
    indexes: list[str] = []
    for col in info.indexed:
        kind = _keygen_kind(col)
        if kind in ("scored", "custom"):
            indexes.append(keys.index(col.attr))
        if kind in ("tokens", "custom"):
            indexes.append(keys.token(col.attr, "<token>"))
        if col.prefix:
            indexes.append(keys.prefix(col.attr))
        if col.suffix:
            indexes.append(keys.suffix(col.attr))
    indexes += [keys.geo(name) for name in info.geo]
    indexes += [keys.unique(c.attr) for c in info.unique]
    indexes += [keys.unique(":".join(group)) for group in info.unique_together]
    found: dict[str, Any] = {
        "model": info.name,
        "namespace": info.namespace,
        "key_prefix": keys.row_prefix,
        "counter": keys.counter,
        "columns": columns,
        "indexes": indexes,
        "unsafe_columns": [keys.unsafe("<id>", attr) for attr in info.unsafe],
    }
    if info.partitions:
        found["partitions"] = info.partitions
    return found


def _shown_keys(model: type[Model]) -> KeySpace:
    # The model's keys; a partitioned model's with its partitions'
    # namespace shown as a pattern: <ns>~<i> (on a cluster {<ns>~<i>~<n>}).
    info = model._meta
    if not info.partitions:
        return info.keys
    first = info.parts[0].namespace
    tagged = first.startswith("{")
    shown = f"{info.namespace}~<i>"
    return KeySpace("{" + shown + "~<n>}" if tagged else shown, info.pk)


def run_models(args: argparse.Namespace) -> int:
    """``rom models``."""
    found = []
    for model in pick_models(args.models):
        figures = footprint(model)
        entry = describe(model)
        entry |= {"rows": figures.rows, "approx_bytes": figures.total_bytes}
        if figures.partition_rows:
            entry["partition_rows"] = figures.partition_rows
        found.append(entry)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for entry in found:
        parts = entry.get("partitions")
        where = (
            f", partitioned over {parts} (i = 0..{parts - 1}; rows per partition "
            f"{entry['partition_rows']})"
            if parts
            else ""
        )
        print(
            f"{entry['model']}: namespace {entry['namespace']!r}{where}, keys "
            f"{entry['key_prefix']}*, {entry['rows']} rows in all, about "
            f"{_size(entry['approx_bytes'])}"
            if parts
            else f"{entry['model']}: namespace {entry['namespace']!r}, keys "
            f"{entry['key_prefix']}*, {entry['rows']} rows, about "
            f"{_size(entry['approx_bytes'])}"
        )
        for col in entry["columns"]:
            keygen = f" keygen={col['keygen']}" if col.get("keygen") else ""
            flags = " ".join(col["flags"])
            print(f"  {col['name']:<20} {col['type']:<12} {flags}{keygen}".rstrip())
        for key in entry["indexes"] + entry["unsafe_columns"]:
            print(f"    {key}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    """``rom stats``."""
    figures = [footprint(m, max(args.sample, 1)) for m in pick_models(args.models)]
    if args.json:
        print(json.dumps([f.to_dict() for f in figures], indent=2))
        return 0
    header = f"{'model':<24}{'rows':>9}{'keys':>9}{'entries':>10}{'unique':>9}"
    print(header + f"{'rows mem':>11}{'index mem':>11}")
    for f in figures:
        print(_stats_line(f))
    total = Footprint("total", "")
    for f in figures:
        total.rows += f.rows
        total.index_entries += f.index_entries
        total.unique_entries += f.unique_entries
        total.keys["all"] = total.keys.get("all", 0) + sum(f.keys.values())
        total.row_bytes = _add(total.row_bytes, f.row_bytes)
        total.index_bytes = _add(total.index_bytes, f.index_bytes)
    print(_stats_line(total))
    return 0


def _add(a: int | None, b: int | None) -> int | None:
    return None if b is None else (a or 0) + b


def _stats_line(f: Footprint) -> str:
    # A partitioned model is named with its partition count: User/16.
    name = f"{f.model}/{len(f.partition_rows)}" if f.partition_rows else f.model
    return (
        f"{name:<24}{f.rows:>9}{sum(f.keys.values()):>9}{f.index_entries:>10}"
        f"{f.unique_entries:>9}{_size(f.row_bytes):>11}{_size(f.index_bytes):>11}"
    )


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
