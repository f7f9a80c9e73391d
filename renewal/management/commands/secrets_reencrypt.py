"""Re-encrypt the platforms' signing secrets with the newest key of RENEWAL_SECRETS_KEYS (key rotation)."""

from django.core.management.base import BaseCommand, CommandError

from renewal.platforms.services import platform_secrets_reencrypt


class Command(BaseCommand):
    help = ("Re-encrypt every platform's signing secrets with the first key of RENEWAL_SECRETS_KEYS. Run it after "
            "putting a new key first (README, 'Rotating the secrets key'); --check exits 1 while any secret still "
            "needs it.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="Change nothing; exit 1 when a secret is not yet encrypted with the first key.")

    def handle(self, *args, check: bool = False, **options):
        summary = platform_secrets_reencrypt(check=check)
        if summary.unreadable:
            raise CommandError(
                "No key of RENEWAL_SECRETS_KEYS decrypts the secrets of: " + ", ".join(summary.unreadable)
                + ". Nothing was changed. Put the key they were encrypted with back in RENEWAL_SECRETS_KEYS.")
        if check:
            if summary.secrets:
                raise CommandError(f"{summary.secrets} secret(s) of {summary.platforms} platform(s) are not yet "
                                   "encrypted with the first key: run secrets_reencrypt.")
            self.stdout.write("Every signing secret is encrypted with the first key.")
            return
        self.stdout.write(f"Re-encrypted {summary.secrets} secret(s) of {summary.platforms} platform(s) with the "
                          "first key of RENEWAL_SECRETS_KEYS.")
