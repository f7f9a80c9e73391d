"""Configuration: the freeze floor check, production refusing unsafe defaults, check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError

from numbers.checks import check_freeze_days

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "prod-" + "k3y" * 20,
    "ALLOWED_HOSTS": "renewal.example.cn",
    "DATABASE_URL": "postgres://portal@db.example.cn/portal",
    "CELERY_BROKER_URL": "redis://redis.example.cn:6379/0",
    "RENEWAL_SECRETS_KEYS": "T3ZlcndyaXRlLW1lLXdpdGgtYS1yZWFsLWZlcm5ldC1rZXk=",
    "SMS_GATEWAY_URL": "https://sms.example.cn/send",
    "CACHE_URL": "redis://redis.example.cn:6379/1",
}


def run_manage(*args, env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("days", [89, 0, -5])
def test_a_freeze_under_90_days_fails_the_system_check(settings, days):
    settings.MIN_FREEZE_DAYS = days
    errors = check_freeze_days(None)
    assert [e.id for e in errors] == ["numbers.E001"]
    assert "at least 90 days" in errors[0].msg


def test_90_days_or_more_passes_the_system_check(settings):
    settings.MIN_FREEZE_DAYS = 90
    assert check_freeze_days(None) == []
    assert not [e for e in checks.run_checks() if e.level >= checks.ERROR]


def test_check_refuses_to_start_with_a_short_freeze():
    result = run_manage("check", env_overrides={"DEBUG": "true", "MIN_FREEZE_DAYS": "60"})
    assert result.returncode != 0
    assert "numbers.E001" in result.stderr and "at least 90 days" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["CELERY_BROKER_URL", "SECRET_KEY", "RENEWAL_SECRETS_KEYS", "SMS_GATEWAY_URL",
                                     "CACHE_URL"])
def test_production_without_a_broker_or_secret_key_fails_loudly(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize("cache_url", ["dbcache://portal_cache", "locmemcache://", "filecache:///tmp/portal-cache"])
def test_production_refuses_a_cache_that_is_not_redis(cache_url):
    # The rate limits count in the cache: only Redis counts atomically across processes and machines.
    result = run_manage("check", env_overrides={**PRODUCTION, "CACHE_URL": cache_url})
    assert result.returncode != 0
    assert "CACHE_URL must name a Redis cache" in result.stderr


def test_demo_data_is_refused_outside_development(settings, db):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("load_demo")
