from numbers.feeds.services import inventory_import, read_inventory
from numbers.management.commands._feedcommand import FeedCommand


class Command(FeedCommand):
    help = (
        "Load an operator's existing numbers (CSV msisdn,state[,holder_since][,cancelled_at]; state is "
        "available, active or frozen). Exit status 0: nothing rejected; 1: some lines rejected; 2: usage error."
    )
    feed_name = "import_numbers"
    importer = staticmethod(inventory_import)
    reader = staticmethod(read_inventory)
