"""Re-issue platforms' signing secrets, printing each new one once.

By default only the secrets that cannot sign Standard Webhooks (the hex secrets of before it: `whsec_` and 64
hex digits, which decode to 48 bytes instead of 32); `--all` re-issues every platform's secret, `--platform`
the named ones (whatever their secret). Each new secret is printed once, with its platform: give it to the
platform; it is stored encrypted and never shown again. Run it again and it finds nothing left to re-issue.
"""

from django.core.management.base import BaseCommand, CommandError

from renewal.models import Platform
from renewal.platforms import services


class Command(BaseCommand):
    help = "Re-issue signing secrets that cannot sign Standard Webhooks (or --all), printing each new one once."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="re-issue every platform's secret")
        parser.add_argument("--platform", action="append", default=[], metavar="NAME_OR_ID",
                            help="re-issue this platform's secret, whatever it is (repeatable)")

    def handle(self, *args, all: bool, platform: list[str], **options):  # noqa: A002 (the option's name)
        platforms = Platform.objects.order_by("pk")
        if platform:
            ids = [int(p) for p in platform if p.isdigit()]
            names = [p for p in platform if not p.isdigit()]
            platforms = platforms.filter(pk__in=ids) | platforms.filter(name__in=names)
            found = {str(p.pk) for p in platforms} | {p.name for p in platforms}
            missing = [p for p in platform if p not in found]
            if missing:
                raise CommandError(f"No such platform: {', '.join(missing)}")
        reissued = 0
        for item in platforms:
            if not (all or platform) and services.platform_secret_signs(item):
                continue
            secret = services.platform_secret_reissue(platform=item)
            self.stdout.write(f"{item.pk}\t{item.name}\t{secret}")
            reissued += 1
        self.stderr.write(f"{reissued} signing secret(s) re-issued; each is shown above once and never again.")
