"""Demo data for the conformance check: each live demo platform passed it against the simulator.

The demo's platforms are played by `simulate_platforms --demo`, which `make run` starts after the data is loaded:
a passing check is recorded for each live one (marked as recorded, not run), so the demo agrees with the rule
that only a platform that passed goes live. Sandbox platforms get no check: in admin, "Run the conformance
check" runs it for real against the simulator, and "Make live" then switches them live.
"""

import os

from django.core.management.base import OutputWrapper
from django.db import transaction

from renewal.conformance import services
from renewal.models import ConformanceCheck, Platform, PlatformStatus
from renewal.platforms import services as platforms

# Two sandbox platforms to try the check on in `make run`: the simulator plays the second as a broken platform
# (the Procfile's `--broken`: it accepts forged signatures, so its check fails at step 2).
SANDBOX_DEMO = "沙盒演示平台"
BROKEN_DEMO = "沙盒演示平台（故障）"


@transaction.atomic
def load(stdout: OutputWrapper) -> list[tuple[str, str, str]]:
    port = int(os.environ.get("RENEWAL_SIMULATOR_PORT", "8090"))  # where `make run` starts the simulator
    for name in (SANDBOX_DEMO, BROKEN_DEMO):
        if not Platform.objects.filter(name=name).exists():
            platform = platforms.platform_create(name=name, category="other", status=PlatformStatus.SANDBOX,
                                                 actor="demo", support_phone="+86 400 000 0000")
            # A webhook platform (the simulator's receiver), not a pull-only one.
            Platform.objects.filter(pk=platform.pk).update(webhook_url=f"http://127.0.0.1:{port}/p/{platform.pk}")
    recorded = 0
    for platform in Platform.objects.filter(status=PlatformStatus.LIVE).exclude(
            pk__in=ConformanceCheck.objects.values("platform_id")):
        if services.needs_check(platform):
            services.conformance_record_simulated(platform=platform)
            recorded += 1
    sandbox = Platform.objects.filter(status=PlatformStatus.SANDBOX).count()
    stdout.write(f"renewal: a passing conformance check recorded for {recorded} live platforms; {sandbox} in the "
                 "sandbox to check")
    return [("Sandbox platforms: run the check, then make live (admin)",
             "/admin/renewal/platform/?status__exact=sandbox",
             f"platform-admin: {SANDBOX_DEMO} passes; {BROKEN_DEMO} fails at step 2")]
