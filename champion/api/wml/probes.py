"""Version probes (the only unauthenticated routes) and the token endpoint."""

from __future__ import annotations

from fastapi import APIRouter

from champion import __version__
from champion.api.deps import ContextDep, SessionDep
from champion.api.wml.errors import WMLRoute
from champion.api.wml.schemas import Authorize
from champion.auth import issue_token
from champion.errors import Unauthenticated
from champion.users import service as users

router = APIRouter(route_class=WMLRoute)

# The WML client accepts CPD 5.0-5.4; 5.0 is the one the older client also accepts.
WML_VERSION = "5.0.0"


@router.get("/ml/wml_services/v2/version")
@router.get("/ml/wml_services/version")
def version() -> dict[str, str]:
    return {"version": WML_VERSION, "champion_version": __version__}


@router.post("/icp4d-api/v1/authorize")
def authorize(body: Authorize, session: SessionDep, context: ContextDep) -> dict[str, str]:
    if body.api_key is None:
        raise Unauthenticated("champion users sign in with username and api_key; passwords are not used")
    actor = users.authenticate_user_key(session, user_name=body.username, secret=body.api_key)
    if actor is None:
        raise Unauthenticated("the user name or API key is not valid")
    token = issue_token(
        user_id=actor.user_id,
        user_name=actor.name,
        key=context.signing_key,
        ttl_seconds=context.settings.token_ttl_seconds,
        # The token dies with the key it was issued for (`deps.token_actor`, `AccessCache.actor_for_token`).
        key_id=actor.key_id,
    )
    return {"token": token, "_messageCode_": "200", "message": "success"}
