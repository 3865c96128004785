"""What the deployment tests share: a space with one member per role and an empty model."""

from __future__ import annotations

from dataclasses import dataclass

from champion.context import ServerContext
from champion.models import service as models
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.spaces.types import Role
from champion.users.service import Actor
from tests.conftest import make_actor


@dataclass(frozen=True)
class Roles:
    space: str
    model: str
    vic: Actor
    eve: Actor


def space_with_roles(context: ServerContext, alice: Actor, bob: Actor) -> Roles:
    """alice admins a space with a model (no versions yet); bob is an editor, vic a viewer, eve an outsider."""
    vic, eve = make_actor(context, "vic"), make_actor(context, "eve")
    with context.sessions() as session:
        space = spaces.create_space(session, alice, details=SpaceDetails(name="s"))
        spaces.add_members(
            session, alice, space_id=space.id, members=[(bob.user_id, Role.EDITOR), (vic.user_id, Role.VIEWER)]
        )
        model = models.create_model(
            session,
            alice,
            space_id=space.id,
            new=NewModel(name="m", type="scikit-learn_1.3", software_spec_id=CATALOGUE[0].id),
        )
        return Roles(space=space.id, model=model.id, vic=vic, eve=eve)
