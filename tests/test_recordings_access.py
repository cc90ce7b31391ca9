"""Who may hear which recording: pure rules, and the same rules as the search's WHERE clause."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from recordings.access import (
    DEFAULT_ROLE_SCOPES,
    AccessDenied,
    Listener,
    RecordingScope,
    can_hear,
    ensure_can_download,
    scope_of_roles,
)


@dataclass
class Rec:
    agent: str | None
    agent_user_id: int | None
    department_id: int | None


def _listener(
    scope: RecordingScope, user_id: int = 7, departments: frozenset[int] = frozenset({3})
) -> Listener:
    return Listener(user_id, "li", frozenset({"li", "1007"}), scope, departments, may_download=False)


def test_roles_map_to_the_broadest_scope() -> None:
    assert scope_of_roles(["agent"], DEFAULT_ROLE_SCOPES) is RecordingScope.OWN
    assert scope_of_roles(["agent", "supervisor"], DEFAULT_ROLE_SCOPES) is RecordingScope.DEPARTMENT
    assert scope_of_roles(["quality"], DEFAULT_ROLE_SCOPES) is RecordingScope.ALL
    assert scope_of_roles(["unknown"], DEFAULT_ROLE_SCOPES) is RecordingScope.NONE
    assert scope_of_roles(["agent"], {"agent": "department_tree"}) is RecordingScope.DEPARTMENT_TREE


@pytest.mark.parametrize(
    ("scope", "rec", "allowed"),
    [
        (RecordingScope.OWN, Rec("1007", 7, 3), True),
        (RecordingScope.OWN, Rec("1008", 8, 3), False),  # a colleague in the same department
        (RecordingScope.OWN, Rec("1007", None, None), True),  # agent not resolved to a user: by agent number
        (RecordingScope.OWN, Rec("1007", 8, 3), False),  # resolved to someone else: the user id wins
        (RecordingScope.DEPARTMENT, Rec("1008", 8, 3), True),
        (RecordingScope.DEPARTMENT, Rec("1009", 9, 4), False),
        (RecordingScope.DEPARTMENT, Rec(None, None, None), False),
        (RecordingScope.ALL, Rec(None, None, None), True),
        (RecordingScope.NONE, Rec("1007", 7, 3), False),
    ],
)
def test_can_hear(scope: RecordingScope, rec: Rec, allowed: bool) -> None:
    assert can_hear(_listener(scope), rec) is allowed


def test_download_needs_the_permission_as_well() -> None:
    listener = _listener(RecordingScope.ALL)
    with pytest.raises(AccessDenied, match="download"):
        ensure_can_download(listener, Rec("1", 1, 1))
    allowed = Listener(7, "li", frozenset(), RecordingScope.ALL, frozenset(), may_download=True)
    ensure_can_download(allowed, Rec("1", 1, 1))


def test_a_misspelt_scope_grants_nothing() -> None:
    assert scope_of_roles(["agent"], {"agent": "everything"}) is RecordingScope.NONE
    assert (
        scope_of_roles(["agent", "quality"], {"agent": "everything", "quality": "all"}) is RecordingScope.ALL
    )
