"""The simulator's answer to `unbind.request` deliveries: a result per task, from a configurable mix.

One of the simulator's answers per event (renewal.simulator.server.EVENT_HANDLERS).
`sim.unbind_mix` (set with `configure`) gives the share of each answer; `None` is a task the
platform never answers (it becomes `no_answer` at the portal's deadline). Without `configure`,
the mix comes from RENEWAL_SIM_UNBIND_MIX (e.g. `unbound=0.6,nothing_bound=0.3,rejected=0.05,none=0.05`),
so `manage.py simulate_platforms` takes it from the environment.
"""

import os

# Every task is answered, so `make run` shows every platform reach a final state; add `none=…` through
# RENEWAL_SIM_UNBIND_MIX (with a short UNBIND_ANSWER_DEADLINE_SECONDS) to watch `no_answer` too.
BUILT_IN_MIX = {"unbound": 0.55, "nothing_bound": 0.38, "rejected": 0.07}
REASONS = ["account under a court freeze", "identity check pending at the platform", "enterprise account"]


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
    """Schedule one result POST per task; return None (nothing for the generic scheduler)."""
    mix = getattr(sim, "unbind_mix", None) or _default_mix()
    choices, weights = list(mix), list(mix.values())
    for task in body.get("tasks", []):
        with sim.lock:
            status = sim.rng.choices(choices, weights)[0]
            accounts = sim.rng.randint(1, 3)
            reason = sim.rng.choice(REASONS)
        if status is None or not sim.api_url:
            continue
        payload = {"status": status}
        if status == "unbound":
            payload["accounts"] = accounts
        elif status == "rejected":
            payload["detail"] = reason
        sim._schedule(platform, f"/api/v1/unbind-tasks/{task['task_id']}/result", payload)
    return None


DEFAULT_MIX = _default_mix()
