"""Settings come from the environment; bad values stop start-up naming the variable."""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_float, env_int, env_list
from tests.workers import python_in_project


def _django(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # The browser tests allow async-unsafe ORM calls in this process; a deployment must not.
    dropped = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return python_in_project("manage.py", *args, env={**clean, **env})


def test_env_helpers_name_the_variable(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_LIST", "a, b,,c")
    assert env_list("SOME_LIST", []) == ["a", "b", "c"]


def test_numbers_are_read_or_refused_naming_the_variable_and_the_bound(monkeypatch):
    monkeypatch.delenv("SOME_NUMBER", raising=False)
    assert env_int("SOME_NUMBER", 7) == 7
    assert env_float("SOME_NUMBER", 0.5, minimum=0, maximum=1) == 0.5
    monkeypatch.setenv("SOME_NUMBER", "3")
    assert env_int("SOME_NUMBER", 7, minimum=1) == 3
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be at least 4, got 3"):
        env_int("SOME_NUMBER", 7, minimum=4)
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be between 0 and 1, got 3"):
        env_float("SOME_NUMBER", 0.5, minimum=0, maximum=1)
    monkeypatch.setenv("SOME_NUMBER", "0.25")
    assert env_float("SOME_NUMBER", 0.5, minimum=0, maximum=1) == 0.25
    with pytest.raises(ImproperlyConfigured, match=r"SOME_NUMBER must be an integer, got '0\.25'"):
        env_int("SOME_NUMBER", 7)
    monkeypatch.setenv("SOME_NUMBER", "half")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be a number, got 'half'"):
        env_float("SOME_NUMBER", 0.5, minimum=0, maximum=1)


def test_start_up_fails_without_secret_key_when_debug_is_off():
    result = _django({"DEBUG": "0"}, "check")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_start_up_fails_on_a_malformed_boolean():
    result = _django({"DEBUG": "perhaps"}, "check")

    assert result.returncode != 0
    assert "DEBUG" in result.stderr


def _production(tmp_path) -> dict[str, str]:
    key = tmp_path / "audit-signing.key"
    made = _django(
        {}, "audit_public_key", "--generate", "clearance.example/audit", "--out", str(key)
    )
    assert made.returncode == 0, made.stderr
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "clearance.example",
        "AUDIT_SIGNING_KEY": str(key),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _django(_production(tmp_path), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr


def test_check_deploy_fails_without_a_chosen_audit_signing_key(tmp_path):
    env = _production(tmp_path)
    del env["AUDIT_SIGNING_KEY"]

    result = _django(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "clearance.E001" in result.stderr


def test_transaction_pooling_turns_off_what_a_pooled_session_would_leak():
    # given the portal behind PgBouncer in transaction pooling mode
    script = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['DISABLE_SERVER_SIDE_CURSORS'], d['OPTIONS']['prepare_threshold'])"
    )
    env = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:6432/clearance",
        "DATABASE_TRANSACTION_POOLING": "1",
    }
    # when the settings load
    result = _django(env, "shell", "--verbosity", "0", "-c", script)
    # then no server-side cursor and no prepared statement outlives a transaction
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "None"]
