"""User administration for the admin API, over the rules of ``users.admin`` (the CLI's).

Passwords are checked and hashed by ``users.admin`` exactly as for
``tokensmith users``; nothing here returns password material.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tokensmith.admin.errors import Conflict, InvalidField, NotFound, invalid_body
from tokensmith.models.user import User
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.users.admin import (
    UserAdminError,
    change_password,
    create_user,
    new_subject_id,
)

MAX_PAGE = 200
Model = TypeVar("Model", bound=BaseModel)


class UserChanges(BaseModel):
    """The fields an administrator may set; all optional on update."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str | None = Field(default=None, max_length=320)
    email_verified: bool | None = None
    profile: dict[str, Any] | None = None
    roles: list[str] | None = None
    custom_data: dict[str, Any] | None = None
    enabled: bool | None = None


class NewUser(UserChanges):
    username: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: str = Field(min_length=1, max_length=1024)


class UserAdmin:
    def __init__(self, store: SqlUserStore):
        self._store = store

    async def list_users(self, *, after: str | None, limit: int) -> list[User]:
        return await self._store.list_users(after=after, limit=max(1, min(limit, MAX_PAGE)))

    async def get(self, username: str) -> User:
        user = await self._store.find_user_by_username(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        return user

    async def create(self, body: Mapping[str, Any]) -> User:
        new = _parsed(NewUser, body)
        user = _changed(User(subject_id=new_subject_id(), username=new.username, enabled=True), new)
        try:
            await create_user(self._store, user, new.password)
        except UserAdminError as exc:
            if "exists" in str(exc):
                raise Conflict(str(exc), "username") from None
            raise InvalidField(str(exc), "password") from None
        return await self.get(new.username)

    async def update(self, username: str, body: Mapping[str, Any]) -> User:
        changes = _parsed(UserChanges, body)
        current = await self.get(username)
        await self._store.update_profile(_changed(current, changes))
        return await self.get(username)

    async def set_password(self, username: str, body: Mapping[str, Any]) -> None:
        password = body.get("password")
        if not isinstance(password, str) or len(password) > 1024:
            raise InvalidField("password: a string of at most 1024 characters", "password")
        await self.get(username)
        try:
            await change_password(self._store, username, password)
        except UserAdminError as exc:
            raise InvalidField(str(exc), "password") from None


def _parsed(model: type[Model], body: Mapping[str, Any]) -> Model:
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        raise invalid_body(exc) from None


def _changed(user: User, changes: UserChanges) -> User:
    given = {
        name: value
        for name, value in changes.model_dump(exclude_unset=True).items()
        if name in UserChanges.model_fields
    }
    if "roles" in given:
        given["roles"] = tuple(given["roles"] or ())
    for name in ("profile", "custom_data"):
        if name in given and given[name] is None:
            given[name] = {}
    if given.get("email_verified") is None:
        given.pop("email_verified", None)
    if given.get("enabled") is None:
        given.pop("enabled", None)
    return dataclasses.replace(user, **given)
