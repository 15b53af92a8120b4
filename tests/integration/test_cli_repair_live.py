"""``rom repair --apply`` while the application keeps writing.

A writer process updates the damaged rows in a loop while the repair runs.
The repair must never make things worse: no write of the application is
lost, and whatever is still wrong afterwards concerns only rows the repair
said it skipped because they changed under it (a second repair fixes
those).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import redis

import rom
from rom.consistency import check

from .rom_cli import ROOT
from .rom_cli import load_app
from .rom_cli import make_places
from .rom_cli import run_rom

P = "ops:place"

WRITER = """
import json, sys, time
import rom
import opsapp
from rom.exceptions import DataRaceError, UniqueKeyViolation

rom.util.set_connection_settings(host=sys.argv[1], port=int(sys.argv[2]))
last = {}
for round in range(int(sys.argv[3])):
    if round == 1:
        print("writing", flush=True)
    for id in range(1, 7):
        for attempt in range(500):
            place = opsapp.OpsPlace.get(id)
            place.age = 100 + round
            place.name = f"Ada Lovelace{id} r{round % 3}"
            try:
                place.save()
                last[id] = [place.age, place.name]
                break
            except DataRaceError:
                rom.session.rollback()
            except UniqueKeyViolation:  # the damage, until a repair fixes it
                rom.session.rollback()
                time.sleep(0.01)
        rom.session.rollback()
print(json.dumps(last), flush=True)
"""


@pytest.fixture
def app(tmp_path: Path, rom_redis: redis.Redis, fresh_models: None) -> ModuleType:
    module = load_app(tmp_path)
    make_places(module, 6)
    rom.session.rollback()
    return module


def damage(conn: redis.Redis) -> None:
    for id in ("1", "2", "3", "4", "5", "6"):
        conn.srem(f"{P}:name:ada:idx", id)
        conn.sadd(f"{P}:name:babbage:idx", id)
        conn.zadd(f"{P}:age:idx", {id: 999})
        conn.zrem(f"{P}:name:pre", f"ada\x00{id}")
    conn.hdel(f"{P}:email:uidx", "p1@example.org", "p2@example.org")
    conn.hset(f"{P}:email:uidx", "p4@example.org", "1")
    for id in range(20, 80):
        conn.sadd(f"{P}:name:ada:idx", id)
        conn.zadd(f"{P}:name:suf", {f"ada\x00{id}": 1})
        conn.rpush(f"{P}:{id}:log", "x")


def test_repair_while_the_application_writes(
    app: ModuleType,
    tmp_path: Path,
    rom_redis: redis.Redis,
    rom_redis_url: str,
) -> None:
    damage(rom_redis)
    assert len(check(app.OpsPlace)) > 100
    host, port = rom_redis_url.split("//")[1].split("/")[0].split(":")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, host, port, "100"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "writing\n"
        repairs = [run_rom(tmp_path, rom_redis_url, "repair", "--apply", "--json")]
        while writer.poll() is None and len(repairs) < 5:
            repairs.append(
                run_rom(tmp_path, rom_redis_url, "repair", "--apply", "--json")
            )
        out = writer.stdout.read()
        writer.wait(timeout=300)
    assert writer.returncode == 0
    last = {int(k): v for k, v in json.loads(out).items()}
    assert sorted(last) == [1, 2, 3, 4, 5, 6]
    skipped: set[str] = set()
    for repair in repairs:
        body = json.loads(repair.stdout)
        assert body["manual"] == []
        skipped |= {step["id"] for step in body["skipped"]}
    # What is still wrong concerns only rows a repair skipped (they changed
    # under it); entries of missing rows are all gone.
    left = check(app.OpsPlace)
    assert {p.id for p in left} <= skipped
    assert not rom_redis.keys(f"{P}:2?:log")
    final = run_rom(tmp_path, rom_redis_url, "repair", "--apply")
    assert final.returncode == 0, final.stdout
    assert check(app.OpsPlace) == []
    # No write of the application was lost.
    for id, (age, name) in last.items():
        place = app.OpsPlace.get(id)
        assert [place.age, place.name] == [age, name]
        rom.session.rollback()
    assert {p.id for p in app.OpsPlace.query.filter(age=(100, 1000))} == set(last)
