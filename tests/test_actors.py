"""Who acts: the configured user, or ``None`` for the system (``foundation.actors``).

The type itself is checked by mypy; these pin what it stands for at run time, that an
anonymous user handed in anyway is still recorded as the system, and that no service
goes back to an untyped ``actor``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from foundation.actors import Actor, User
from foundation.audit.services import audit_record
from portal.accounts.models import User as PortalUser
from provisioning.bulk.services import actor_id

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("foundation", "portal", "provisioning")


def test_the_configured_user_model_is_an_actor() -> None:
    assert issubclass(get_user_model(), User)
    assert isinstance(None, Actor)  # the system


@pytest.mark.django_db
def test_an_audit_event_names_the_user_who_acted(ops_user: PortalUser) -> None:
    event = audit_record(actor=ops_user, action="test.acted")
    assert (event.actor_id, event.actor_label) == (ops_user.pk, ops_user.get_username())


@pytest.mark.django_db
def test_the_system_and_an_anonymous_user_are_recorded_as_the_system() -> None:
    for actor in (None, AnonymousUser()):
        event = audit_record(actor=actor, action="test.acted")  # type: ignore[arg-type]
        assert (event.actor_id, event.actor_label) == (None, "system")


@pytest.mark.django_db
def test_an_actor_id_is_the_signed_in_users_only(ops_user: PortalUser) -> None:
    assert actor_id(ops_user) == ops_user.pk
    assert actor_id(None) is None
    assert actor_id(AnonymousUser()) is None  # type: ignore[arg-type]


def _untyped_actors() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                arguments = node.args
                for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                    if arg.arg != "actor":
                        continue
                    annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                    if annotation in ("", "Any", "typing.Any", "object"):
                        where = path.relative_to(ROOT)
                        found.append(f"{where}:{node.lineno} {node.name}({annotation or '?'})")
    return found


def test_no_service_takes_an_untyped_actor() -> None:
    assert _untyped_actors() == []
