"""from_stored_row: completing a delete or forced-save plan from the row read."""

import rom
from rom._writer import from_stored_row
from rom._writer import plan_delete
from rom._writer import plan_save


class RowPlanAcct(rom.Model):
    email = rom.Text(unique=True, keygen=rom.IDENTITY_CI)
    handle = rom.Text(unique=True)
    nick = rom.Text()
    nick_ci = rom.IndexOnly(column="nick", keygen=rom.IDENTITY_CI, unique=True)


class RowPlanPlain(rom.Model):
    handle = rom.Text(unique=True)


INFO = RowPlanAcct._meta
STALE = {"id": "3", "email": "Al@X.org", "handle": "al", "nick": "Ally"}
ROW = {"id": "3", "email": "Bob@X.org", "handle": "bob", "nick": "Bobby"}


def _data(row: dict[str, str]) -> dict[str, object]:
    return {
        "id": int(row["id"]),
        "email": row["email"],
        "handle": row["handle"],
        "nick": row["nick"],
        "nick_ci": None,
    }


def test_only_deletes_and_forced_saves_of_keygen_unique_models_read_the_row() -> None:
    assert plan_delete(INFO, _data(STALE), STALE, 3).reads_row
    assert plan_save(INFO, _data(STALE), STALE, 3, new=False, force=True).reads_row
    assert not plan_save(INFO, _data(STALE), STALE, 3, new=False).reads_row
    assert not plan_save(INFO, _data(STALE), {}, None, new=True, force=True).reads_row
    plain = RowPlanPlain._meta
    assert not plan_delete(plain, {"id": 1, "handle": "a"}, {"id": "1"}, 1).reads_row


def test_a_delete_removes_the_keygen_entries_of_the_row_read() -> None:
    plan = plan_delete(INFO, _data(STALE), STALE, 3)
    from_stored_row(plan, INFO, ROW)
    assert plan.unique_stored == [("email", "bob@x.org"), ("nick_ci", "bobby")]
    assert dict(plan.row_check) == {
        "id": "3",
        "email": "Bob@X.org",
        "handle": "bob",
        "nick": "Bobby",
    }
    assert '"unique_stored":[["email","bob@x.org"],["nick_ci","bobby"]]' in (
        plan.to_json()
    )


def test_a_forced_save_keeps_the_entries_it_writes_again() -> None:
    data = _data(STALE) | {"nick": "BOBBY"}
    plan = plan_save(INFO, data, STALE, 3, new=False, force=True)
    from_stored_row(plan, INFO, ROW)
    assert plan.unique_stored == [("email", "bob@x.org")]


def test_a_row_gone_has_no_entries_and_must_stay_gone() -> None:
    plan = plan_delete(INFO, _data(STALE), STALE, 3)
    from_stored_row(plan, INFO, {})
    assert plan.unique_stored == []
    assert all(value is None for _, value in plan.row_check)
    assert plan.row_check[0] == ("id", None)
