"""Demo data for the conformance check: each live demo platform passed it against the simulator.

The demo's platforms are played by `simulate_platforms --demo`, which `make run` starts after the data is loaded:
a passing check is recorded for each live one (marked as recorded, not run), so the demo agrees with the rule
that only a platform that passed goes live. Sandbox platforms get no check: in admin, "Run the conformance
check" runs it for real against the simulator, and "Make live" then switches them live.
"""

from django.core.management.base import OutputWrapper
from django.db import transaction

from renewal.conformance import services
from renewal.models import ConformanceCheck, Platform, PlatformStatus


@transaction.atomic
def load(stdout: OutputWrapper) -> list[tuple[str, str, str]]:
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
             "/admin/renewal/platform/?status__exact=sandbox", "platform-admin: choose, then the action")]
