from numbers.feeds.services import cancellations_import, read_cancellations
from numbers.management.commands._feedcommand import FeedCommand


class Command(FeedCommand):
    help = (
        "Apply an operator's cancellation and port feed (CSV msisdn,cancelled_at[,reason][,to_operator]). "
        "Exit status 0: nothing rejected; 1: some lines rejected (see the report); 2: usage error."
    )
    feed_name = "import_cancellations"
    importer = staticmethod(cancellations_import)
    reader = staticmethod(read_cancellations)
