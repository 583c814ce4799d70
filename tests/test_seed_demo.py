from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from foundation.audit.chain import verify_chain
from portal.accounts.models import User
from portal.certification.models import Campaign
from portal.partners.models import Organisation
from provisioning.catalog.models import CoveredModel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings):
    settings.DEBUG = True


def test_it_refuses_to_seed_known_passwords_in_production(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")
    assert not User.objects.exists()


def _seed_json(capsys) -> list[dict]:
    call_command("seed_demo", "--json")
    return json.loads(capsys.readouterr().out)


def test_it_tells_the_story_and_is_safe_to_run_twice(capsys):
    first = _seed_json(capsys)
    users, orgs = User.objects.count(), Organisation.objects.count()
    second = _seed_json(capsys)

    assert first == second
    assert (User.objects.count(), Organisation.objects.count()) == (users, orgs)
    assert set(CoveredModel.objects.values_list("slug", flat=True)) == {"mythos-5", "fable"}
    assert CoveredModel.objects.get(slug="mythos-5").four_eyes is True
    assert list(
        CoveredModel.objects.get(slug="mythos-5").stages.values_list("name", flat=True)
    ) == ["evaluation", "limited", "full"]
    trusted = dict(Organisation.objects.values_list("slug", "trusted"))
    assert trusted == {
        "northwind-cyber": True,
        "gridline-energy": True,
        "albion-secure": False,
        "pending-labs": False,
    }
    assert list(Campaign.objects.values_list("state", "covered_model__slug")) == [("open", "fable")]
    assert verify_chain().ok


def test_json_lists_every_login_with_its_fields(capsys):
    logins = {row["username"]: row for row in _seed_json(capsys)}

    for username in ("reviewer1", "reviewer2", "compliance1", "compliance2", "ops1", "auditor1"):
        assert logins[username]["totp_secret"]
    assert logins["nadia.reyes"]["organisation"] == "northwind-cyber"
    assert set(logins["ops1"]) == {
        "username",
        "email",
        "password",
        "totp_secret",
        "role",
        "organisation",
    }


def test_it_includes_a_dual_national_and_a_foreign_national_at_a_us_partner(capsys):
    _seed_json(capsys)

    people = {
        p.user.username: p
        for p in User.objects.get(username="nadia.reyes")
        .memberships.get()
        .organisation.people.select_related("user")
    }
    assert len(people["omid.farahani"].citizenships) == 2
    assert people["li.wei"].citizenships == ["CN"]
    assert people["li.wei"].residence_country == "US"


def test_demo_staff_can_sign_in_with_the_printed_totp_secret(client, capsys):
    import pyotp

    logins = {row["username"]: row for row in _seed_json(capsys)}
    ops = logins["ops1"]

    client.post("/accounts/login/", {"login": "ops1", "password": ops["password"]})
    client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(ops["totp_secret"]).now()})

    assert client.get("/").context["user"].username == "ops1"


# Real commits, so the emails sent after commit go out while the command runs, as they do.
@pytest.mark.django_db(transaction=True)
def test_json_on_a_fresh_database_is_json_alone_with_console_emails_on_stderr(settings, capsys):
    # given: the demo's default console email backend, which writes each email to stdout
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    # when
    call_command("seed_demo", "--json")

    # then: stdout parses as one JSON document; the certification emails went to stderr
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert any("password" in row for row in rows)
    assert "Subject: Certify your people" in captured.err
    assert "Subject:" not in captured.out


def test_the_demo_screens_everyone_against_the_shipped_lists_and_holds_the_listed_nominee(capsys):
    from portal.eligibility.models import Person, ScreeningState
    from portal.screening.models import ListVersion, MatchStatus, ScreeningMatch

    _seed_json(capsys)

    formats = set(ListVersion.objects.filter(is_current=True).values_list("list_format", flat=True))
    assert formats == {"ofac-sdn", "csl"}
    held = Person.objects.filter(screening_state=ScreeningState.POTENTIAL_MATCH)
    assert [p.legal_name for p in held] == ["Александр Малькевич"]
    match = ScreeningMatch.objects.get(person=held[0], status=MatchStatus.PENDING)
    assert match.entry.entity_id == "26235"
    assert any("transliterated" in reason for reason in match.reasons)
    others = Person.objects.exclude(pk=held[0].pk)
    assert set(others.values_list("screening_state", flat=True)) == {ScreeningState.CLEAR}
