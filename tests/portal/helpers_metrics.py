"""Scrape /metrics as Prometheus does and read its samples."""

from prometheus_client.parser import text_string_to_metric_families


def scrape(client, **extra) -> dict[str, list]:
    """Return {metric family name: [samples]} of one scrape of /metrics (from 127.0.0.1 unless told)."""
    response = client.get("/metrics", **{"REMOTE_ADDR": "127.0.0.1", **extra})
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.content.decode())}


def value(families: dict, sample_name: str, **labels) -> float:
    """The value of one sample (0 when absent, as Prometheus' `or vector(0)` would read it)."""
    family = sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    for sample in families.get(family, []):
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return 0.0
