import importlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Load the demo data of `make run` (development only) and print each role's URL and login."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        if not settings.DEBUG:
            raise CommandError("Demo data and demo accounts are for development only: set DEBUG=true to load them.")
        lines = []
        for step in settings.DEMO_STEPS:
            lines.extend(importlib.import_module(step).load(self.stdout))
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("The portal is ready. Sign in as:"))
        for who, path, login in lines:
            self.stdout.write(f"  {who:<34} {base_url}{path:<28} {login.replace('{url}', base_url)}")
