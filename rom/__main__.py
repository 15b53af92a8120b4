"""``python -m rom``: the ``rom`` operations command (see ``rom.cli``)."""

from __future__ import annotations

from rom.cli import main

raise SystemExit(main())
