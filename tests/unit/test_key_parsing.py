"""KeySpace's key-name readers used by the maintenance jobs, and Progress."""

from __future__ import annotations

import pytest

from rom._keys import KeySpace
from rom._keys import glob_escape
from rom.maintenance import Progress


class TestKeySpaceReaders:
    keys = KeySpace("app:users*", "uid")

    def test_scan_pattern_escapes_glob_characters(self) -> None:
        """Namespaces with * ? [ ] \\ match only themselves."""
        assert self.keys.scan_pattern == "app:users\\*:*"
        assert glob_escape("a[b]?c\\") == "a\\[b\\]\\?c\\\\"

    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("app:users*:12", "12"),
            ("app:users*:uid:", None),
            ("app:users*:12:notes", None),
            ("app:users*:inner:12", None),
            ("app:users*:\u0663", None),  # a non-ASCII digit
            ("app:users:12", None),
        ],
    )
    def test_row_id(self, key: str, expected: str | None) -> None:
        """Only <ns>:<ASCII digits> is a row."""
        assert self.keys.row_id(key) == expected

    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("app:users*:12:notes", ("12", "notes")),
            ("app:users*:12:idx", None),
            ("app:users*:12:uidx", None),
            ("app:users*:x:notes", None),
            ("app:users*:12:a:b", None),
            ("app:users*:12:", None),
        ],
    )
    def test_unsafe_parts(self, key: str, expected: tuple[str, str] | None) -> None:
        """<ns>:<id>:<identifier>, never an index suffix."""
        assert self.keys.unsafe_parts(key) == expected

    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("app:users*:age:idx", ("age", "idx")),
            ("app:users*:tag:a b:c:idx", ("tag:a b:c", "idx")),
            ("app:users*:name:pre", ("name", "pre")),
            ("app:users*:a:b:uidx", ("a:b", "uidx")),
            ("app:users*:where:geo", ("where", "geo")),
            ("app:users*:idx", None),
            ("app:users*:12", None),
            ("other:age:idx", None),
        ],
    )
    def test_index_parts(self, key: str, expected: tuple[str, str] | None) -> None:
        """<ns>:<name>:<kind>, the name possibly holding ':'."""
        assert self.keys.index_parts(key) == expected


def test_progress_is_a_pair_with_extras() -> None:
    """Progress unpacks as (done, total) and carries resume and removed."""
    progress = Progress(3, 10, resume=42, removed=2)
    done, total = progress
    assert (done, total) == (3, 10) == progress
    assert (progress.done, progress.total) == (3, 10)
    assert (progress.resume, progress.removed) == (42, 2)
    assert Progress(1, 1).resume is None
