"""The demo's story end to end against a real scim2-server (issue 4, "Done when").

``seed_demo`` with ``DEMO_SCIM_URL`` (what ``scripts/run_demo.sh`` sets) registers the SCIM
server as a target; ``deliver --until-idle`` makes every demo key a SCIM user; a suspension
makes its users inactive there, and the ops page shows the target caught up.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from foundation.audit.models import AuditEvent
from portal.web.demo import seed_demo
from portal.web.demo_access import DEMO_SCIM_TARGET
from provisioning.connectors.registry import build_connector
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Target
from provisioning.deliveries.selectors import SyncState, credential_sync_states, target_health
from provisioning.grants.models import Grant, SuspensionKind
from provisioning.grants.services import grant_suspend
from tests.conftest import client_for

pytest_plugins = ["tests.servers"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_scim(settings, scim_server):
    url, token = scim_server
    settings.DEBUG = True
    settings.DEMO_SCIM_URL, settings.DEMO_SCIM_TOKEN = url, token
    return url, token


def _actual() -> dict[int, bool]:
    connector = build_connector(Target.objects.get(name=DEMO_SCIM_TARGET).to_config())
    try:
        return {cid: state.active for cid, state in connector.read_state().items()}
    finally:
        connector.close()


def test_demo_keys_become_scim_users_and_a_suspension_makes_them_inactive(demo_scim, ops_user):
    seed_demo()
    call_command("deliver", until_idle=True)

    live = Credential.objects.exclude(state=CredentialState.REVOKED)
    assert live.count() >= 4
    assert _actual() == {c.pk: c.state == CredentialState.ACTIVE for c in live}
    assert all(_actual().values())

    # when compliance suspends northwind-cyber's mythos-5 grant
    grant = Grant.objects.get(organisation__slug="northwind-cyber", covered_model__slug="mythos-5")
    suspended = set(grant.credentials.values_list("pk", flat=True))
    grant_suspend(grants=grant, reason=SuspensionKind.REGULATORY, reference="ban-1", actor=None)
    call_command("deliver", until_idle=True)

    # then exactly its keys are inactive at the SCIM server, the others stay active
    actual = _actual()
    assert {pk for pk, active in actual.items() if not active} == suspended
    assert len(actual) == live.count()
    target = Target.objects.get(name=DEMO_SCIM_TARGET)
    [health] = target_health(targets=[target])
    assert (health.lag, health.failed, health.dead) == (0, 0, 0)
    states = credential_sync_states(credential_ids=suspended, targets=[target])
    assert {s[target.pk] for s in states.values()} == {SyncState.IN_SYNC}
    page = client_for(ops_user).get("/provisioning/")
    assert page.status_code == 200 and DEMO_SCIM_TARGET in page.content.decode()


def test_seeding_again_replays_everything_to_a_fresh_server(demo_scim, settings, scim_server_root):
    seed_demo()
    call_command("deliver", until_idle=True)
    first = _actual()
    assert first

    # the demo restarts: a new, empty SCIM server at another address
    from tests.servers import new_tenant_url

    settings.DEMO_SCIM_URL = new_tenant_url(scim_server_root)
    seed_demo()
    assert _actual() == {}
    call_command("deliver", until_idle=True)

    target = Target.objects.get(name=DEMO_SCIM_TARGET)
    assert target.url == settings.DEMO_SCIM_URL
    assert _actual() == first
    assert AuditEvent.objects.filter(action="target.replayed", object_id=str(target.pk)).exists()


def test_without_a_demo_scim_url_the_seed_adds_no_target(settings):
    settings.DEBUG = True
    settings.DEMO_SCIM_URL = ""

    seed_demo()

    assert not Target.objects.exists()
