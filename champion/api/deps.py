"""FastAPI dependencies shared by the faces: they fetch things, they never decide."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from champion.artifacts import ArtifactStore
from champion.auth import Credential, parse_authorization, verify_token
from champion.config import Settings
from champion.context import ServerContext
from champion.errors import Unauthenticated
from champion.users import service as users
from champion.users.errors import UserNotFound
from champion.users.service import Actor


def get_context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


ContextDep = Annotated[ServerContext, Depends(get_context)]


def get_session(context: ContextDep) -> Iterator[Session]:
    # Services commit before they return (invariant 4); closing here only releases the connection.
    with context.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_settings(context: ContextDep) -> Settings:
    return context.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_store(context: ContextDep) -> ArtifactStore:
    return context.store


StoreDep = Annotated[ArtifactStore, Depends(get_store)]


def authenticate(session: Session, context: ServerContext, credential: Credential) -> Actor:
    if credential.is_jwt:
        claims = verify_token(credential.secret, key=context.signing_key)
        try:
            return users.actor_of(users.get_user(session, user_id=claims["sub"]))
        except UserNotFound:
            raise Unauthenticated("the token's user no longer exists") from None
    if credential.user_name is not None:
        actor = users.authenticate_user_key(session, user_name=credential.user_name, secret=credential.secret)
    else:
        actor = users.authenticate_key(session, credential.secret)
    if actor is None:
        raise Unauthenticated("the API key is not valid")
    return actor


def current_actor(
    session: SessionDep, context: ContextDep, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    return authenticate(session, context, parse_authorization(authorization))


ActorDep = Annotated[Actor, Depends(current_actor)]
