"""The simulator's answer to `unbind.request` deliveries: every task's result in one call, from a configurable mix.

One of the simulator's answers per event (renewal.simulator.server.EVENT_HANDLERS). It posts the results of all
the delivery's tasks at once to `POST /api/v1/deliveries/{id}/results`, as a platform should. `sim.unbind_mix`
(set with `configure`) gives the share of each answer; `None` is a task the platform never answers (it becomes
`no_answer` at the portal's deadline). Without `configure`, the mix comes from RENEWAL_SIM_UNBIND_MIX (e.g.
`unbound=0.6,nothing_bound=0.3,rejected=0.05,none=0.05`), so `manage.py simulate_platforms` takes it from the
environment. A rejection names a reason code of the vocabulary, with a free-text detail beside it.
"""

import os

# Every task is answered, so `make run` shows every platform reach a final state; add `none=…` through
# RENEWAL_SIM_UNBIND_MIX (with a short UNBIND_ANSWER_DEADLINE_SECONDS) to watch `no_answer` too.
BUILT_IN_MIX = {"unbound": 0.55, "nothing_bound": 0.38, "rejected": 0.07}
# Reason codes (the API's vocabulary) with what a platform might write beside them.
REASONS = [
    ("legal_hold", "account under a court freeze"),
    ("identity_check_required", "identity check pending at the platform"),
    ("enterprise_account", "enterprise account: its administrator must release it"),
    ("assets_or_balance", "wallet balance 12.50 CNY"),
    ("active_contract", "monthly plan runs until next month"),
    ("other", "account under review"),
]


def _default_mix() -> dict:
    text = os.environ.get("RENEWAL_SIM_UNBIND_MIX", "")
    return parse_mix(text) if text else BUILT_IN_MIX


def configure(sim, mix: dict | None = None) -> None:
    sim.unbind_mix = dict(mix or _default_mix())


def parse_mix(text: str) -> dict:
    """`unbound=0.6,nothing_bound=0.3,rejected=0.05,none=0.05` -> a mix."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, share = part.partition("=")
        key = None if name.strip() in ("none", "no_answer") else name.strip()
        if key not in (None, "unbound", "nothing_bound", "rejected"):
            raise ValueError(f"unknown unbind answer {name!r}")
        mix[key] = float(share)
    return mix


def answer_unbind(sim, platform, body: dict):
    """Return the one results call of this delivery (API path, JSON), or None when no task is answered."""
    mix = getattr(sim, "unbind_mix", None) or _default_mix()
    choices, weights = list(mix), list(mix.values())
    bad_reasons = "bad_reasons" in getattr(platform, "broken", ())
    items = []
    for task in body.get("tasks", []):
        with sim.lock:
            status = sim.rng.choices(choices, weights)[0]
            accounts = sim.rng.randint(1, 3)
            reason, detail = sim.rng.choice(REASONS)
        if bad_reasons:  # a broken platform: its own words where the vocabulary's code belongs
            status, reason, detail = "rejected", "account_not_ours", "not our customer"
        if status is None:
            continue
        item = {"task_id": task["task_id"], "status": status}
        if status == "unbound":
            item["accounts"] = accounts
        elif status == "rejected":
            item["reason"], item["detail"] = reason, detail
        items.append(item)
    if not items:
        return None
    return f"/api/v1/deliveries/{body['delivery_id']}/results", {"items": items}


DEFAULT_MIX = _default_mix()
