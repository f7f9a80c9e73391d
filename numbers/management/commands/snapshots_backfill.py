from django.core.management.base import BaseCommand, CommandError

from numbers.snapshots import snapshots_backfill, snapshots_take


class Command(BaseCommand):
    help = ("Write the dashboard's daily numbers-by-state snapshots of the past DAYS days from the events (once, "
            "when the dashboard is installed on an existing portal), and today's stock figures as yesterday's.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=400, help="How many past days to write (default 400).")

    def handle(self, *args, days, **options):
        if not 1 <= days <= 3660:
            raise CommandError("--days is between 1 and 3660.")
        taken = snapshots_take()  # every provider's figures; the day's states are then replaced from the events
        written = snapshots_backfill(days=days)
        self.stdout.write(f"Wrote {written} snapshot rows for {days} days from the events, and {taken} rows of "
                          "yesterday's stock figures.")
