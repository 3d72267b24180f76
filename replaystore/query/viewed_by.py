"""Viewed-by: who viewed a replay, and `has_viewed` per requesting user.

Views live in the `viewers` table (storage/viewers.py); the replay itself is looked up in the
`replays` summary as the details route does (widened window, segment 0 stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from replaystore.catalog import User
from replaystore.fields.viewers import TABLE
from replaystore.query.common import Executor, Window, conjunction, project_condition

# Sentry answers an empty 400 to a request not tied to a user; we say why.
NO_USER = (
    "Recording a view needs a token that acts as a user (replaystore token add --user-id ...); "
    "this request has none."
)
EPOCH = "1970-01-01T00:00:00.000000+00:00"  # dateJoined of a user added before users had dates


def _eq(column: str, value: object) -> exp.Expression:
    return exp.EQ(this=exp.column(column), expression=exp.convert(value))


def find_replay(
    engine: Executor, project_id: int, replay_id: str, window: Window
) -> dict[str, Any] | None:
    """The replay's `started_at` and `is_archived`, as details would find it, or None."""
    widened = window.widened()
    where = conjunction(
        [
            project_condition([project_id]),
            _eq("replay_id", replay_id),
            widened.condition("started_at"),
            widened.month_condition(),
        ]
    )
    query = exp.select("started_at", "is_archived").from_("replays").where(where).limit(1)
    rows = engine.execute(query)
    return rows[0] if rows else None


def viewer_ids(engine: Executor, project_id: int, replay_id: str) -> list[int]:
    """The distinct users who viewed the replay, in the order they first did."""
    query = (
        exp.select("viewer_id")
        .from_(TABLE)
        .where(exp.and_(_eq("project_id", project_id), _eq("replay_id", replay_id)))
        .group_by("viewer_id")
        .order_by(exp.Min(this=exp.column("viewed_at")), "viewer_id")
    )
    return [int(row["viewer_id"]) for row in engine.execute(query)]


def viewed_keys(
    engine: Executor, viewer_id: int, keys: Sequence[tuple[int, str]]
) -> set[tuple[int, str]]:
    """Which of these (project_id, replay_id) the user viewed."""
    if not keys:
        return set()
    ids = sorted({replay_id for _, replay_id in keys})
    query = (
        exp.select("project_id", "replay_id")
        .distinct()
        .from_(TABLE)
        .where(
            exp.and_(
                _eq("viewer_id", viewer_id),
                exp.column("replay_id").isin(*(exp.Literal.string(i) for i in ids)),
            )
        )
    )
    return {(int(r["project_id"]), str(r["replay_id"])) for r in engine.execute(query)}


def mark_viewed(engine: Executor, viewer_id: int | None, rows: list[dict[str, Any]]) -> None:
    """Set `has_viewed` on summary rows (true iff this user viewed the replay)."""
    keys = [(int(r["project_id"]), str(r["replay_id"])) for r in rows]
    seen = viewed_keys(engine, viewer_id, keys) if viewer_id is not None else set()
    for row, key in zip(rows, keys, strict=True):
        row["has_viewed"] = key in seen


def user_object(user: User) -> dict[str, Any]:
    """Sentry's user object with exactly its 18 keys; defaults where the catalog
    has no value (no avatars, passwords or 2FA here)."""
    joined = user.date_joined or EPOCH
    display = user.name or user.email or f"user-{user.id}"
    return {
        "id": str(user.id),
        "name": display,
        "username": user.email or display,
        "email": user.email,
        "avatarUrl": "",
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None},
        "emails": (
            [{"id": str(user.id), "email": user.email, "is_verified": False}] if user.email else []
        ),
        "experiments": {},
        "has2fa": False,
        "hasPasswordAuth": False,
        "isActive": True,
        "isManaged": False,
        "isStaff": False,
        "isSuperuser": False,
        "dateJoined": joined,
        "lastActive": joined,
        "lastLogin": None,
        "type": "user",
    }


USER_KEYS = frozenset(user_object(User(1)))
