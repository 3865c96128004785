"""FastAPI dependencies shared by the faces: they fetch things, they never decide."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from champion.artifacts import ArtifactStore
from champion.auth import Credential, parse_authorization, verify_key_token
from champion.config import Settings
from champion.context import ServerContext
from champion.errors import Unauthenticated
from champion.operations.runner import OperationRunner
from champion.serving.engine import ServingEngine
from champion.spaces.access import AccessCache
from champion.users import service as users
from champion.users.service import Actor


# The getters are `async def` on purpose: FastAPI runs a sync dependency in its thread pool,
# which cost the prediction path a thread hop per dependency per request.
async def get_context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


ContextDep = Annotated[ServerContext, Depends(get_context)]


def get_session(context: ContextDep) -> Iterator[Session]:
    # Services commit before they return (invariant 4); closing here only releases the connection.
    with context.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_settings(context: ContextDep) -> Settings:
    return context.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_store(context: ContextDep) -> ArtifactStore:
    return context.store


StoreDep = Annotated[ArtifactStore, Depends(get_store)]


def authenticate(session: Session, context: ServerContext, credential: Credential) -> Actor:
    if credential.is_jwt:
        return token_actor(session, context, credential.secret)
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


def token_actor(session: Session, context: ServerContext, token: str, *, audience: str | None = None) -> Actor:
    """The user a token of this server was issued to, while the API key it was issued for is
    live and theirs: revoking the key (or deleting the user) ends its tokens at once."""
    named = verify_key_token(token, key=context.signing_key, audience=audience)
    actor = users.live_key_holder(session, key_id=named.key_id, user_id=named.user_id)
    if actor is None:
        raise Unauthenticated("the API key this token was issued for is revoked, or its user deleted: authorize again")
    return actor


async def get_engine(request: Request) -> ServingEngine:
    engine: ServingEngine = request.app.state.engine
    return engine


EngineDep = Annotated[ServingEngine, Depends(get_engine)]


async def get_access(request: Request) -> AccessCache:
    access: AccessCache = request.app.state.access
    return access


AccessDep = Annotated[AccessCache, Depends(get_access)]


async def get_runner(request: Request) -> OperationRunner:
    runner: OperationRunner = request.app.state.runner
    return runner


RunnerDep = Annotated[OperationRunner, Depends(get_runner)]


async def hot_actor(
    context: ContextDep, access: AccessDep, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    return await authenticate_from_memory(context, access, authorization)


async def authenticate_from_memory(context: ServerContext, access: AccessCache, authorization: str | None) -> Actor:
    """The caller, from memory (invariant 5); a key made a moment ago is looked up once.

    A token names the API key it was issued for and is good only while the access cache holds
    that key live: revoking the key ends its tokens here as soon as the follower reloads the cache.
    """
    credential = parse_authorization(authorization)
    if credential.is_jwt:
        actor = access.actor_for_token(verify_key_token(credential.secret, key=context.signing_key))
    else:
        actor = access.actor_for_key(credential.secret)
        if actor is not None and credential.user_name is not None and credential.user_name != actor.name:
            raise Unauthenticated("the API key is not valid")
    if actor is None:
        seen = access.generation  # read before the lookup: see AccessCache.remember
        actor = await run_in_threadpool(_from_database, context, credential)
        access.remember(actor, secret=None if credential.is_jwt else credential.secret, seen=seen)
    return actor


def _from_database(context: ServerContext, credential: Credential) -> Actor:
    with context.sessions() as session:
        return authenticate(session, context, credential)


HotActorDep = Annotated[Actor, Depends(hot_actor)]
