"""The sample Grafana dashboard and Prometheus alerts in deploy/ ask only for series /metrics really answers
(the deploy files themselves are validated by `make deploy-check`)."""

import json
import re

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = settings.BASE_DIR / "deploy"


@pytest.fixture
def series(client, db):
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    names = set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    for family in text_string_to_metric_families(text):
        # A labelled counter has no sample before its first event: its series' names come from its type.
        names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def _asked(exprs):
    return {name for expr in exprs for name in re.findall(r"\bportal_[a-z_]+\b", expr)}


def test_every_alert_asks_for_a_real_series(series):
    rules = [rule for group in yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())["groups"]
             for rule in group["rules"]]
    asked = _asked(rule["expr"] for rule in rules)
    assert asked and asked <= series, asked - series
    assert all(rule["annotations"]["summary"] and rule["labels"]["severity"] in ("page", "ticket") for rule in rules)


def test_every_dashboard_panel_asks_for_a_real_series(series):
    dashboard = json.loads((DEPLOY / "grafana/portal-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    asked = _asked(exprs)
    assert len(asked) >= 15 and asked <= series, asked - series


def test_prometheus_loads_the_alerts():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"
