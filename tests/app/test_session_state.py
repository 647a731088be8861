"""Change detection of the session middleware: what a request changed is always written,
what it left alone is not, whatever objects hold the same values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.session_state import changed_keys, snapshot
from app.session_store import decode_record, encode_record

RECORD: dict[str, Any] = {
    "user": {"sub": "auth0|alice", "name": "Alice", "email_verified": True},
    "tokens": {"api read": {"access_token": "eyJ.x.y", "expires_at": 1.5, "n": 1}},
    "refresh_token": "r" * 40,
    "list": [1, "two", None],
}


def loaded() -> dict[str, Any]:
    """A fresh copy of RECORD, as a store would read it back."""
    record = decode_record(encode_record(RECORD))
    assert record is not None
    return record


def test_equal_values_in_other_objects_are_unchanged() -> None:
    session = loaded()
    before = snapshot(session)
    # Other objects, other string identities (interned literals vs decoded JSON): the same.
    session.update(json.loads(json.dumps(RECORD)))
    session["user"] = {"sub": "auth0|alice", "name": "Alice", "email_verified": True}
    assert changed_keys(session, before) == {}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        pytest.param(lambda s: s["user"].update(name="Bob"), "user", id="nested-in-place"),
        pytest.param(lambda s: s["list"].append(4), "list", id="list-append"),
        pytest.param(lambda s: s["user"].update(email_verified=1), "user", id="true-to-1"),
        pytest.param(lambda s: s["tokens"]["api read"].update(n=1.0), "tokens", id="1-to-1.0"),
        pytest.param(lambda s: s["tokens"]["api read"].update(n="1"), "tokens", id="1-to-'1'"),
        pytest.param(lambda s: s["list"].__setitem__(2, 0), "list", id="none-to-0"),
        pytest.param(lambda s: s.update(refresh_token="s" * 40), "refresh_token", id="string"),
        pytest.param(lambda s: s.update(new={"a": []}), "new", id="new-key"),
    ],
)
def test_every_change_is_seen(change: Any, key: str) -> None:
    session = loaded()
    before = snapshot(session)
    change(session)
    assert changed_keys(session, before) == {key: session[key]}


def test_a_value_that_is_not_json_shaped_always_counts_as_changed() -> None:
    # It is then written, and the store's encoding refuses it as it always did.
    session = loaded()
    session["when"] = datetime(2026, 1, 1, tzinfo=UTC)
    before = snapshot(session)
    assert before["when"] is None
    assert set(changed_keys(session, before)) == {"when"}


def test_a_reordered_dict_costs_a_write_but_is_never_missed() -> None:
    session = loaded()
    before = snapshot(session)
    session["user"] = dict(reversed(list(session["user"].items())))
    assert set(changed_keys(session, before)) == {"user"}
