"""Measure the number book's queries on a large table, with its indexes and without (the baseline).

Loads `--rows` numbers for three bench operators (once; set-based INSERT … SELECT), then times each
search of numbers.sales.selectors.number_book_page with the 0005_sales indexes, and again inside a
transaction that drops them (rolled back afterwards), and prints medians, ratios and the plans.
PostgreSQL only; development databases only (DEBUG=true), since it writes a million rows.
"""

import statistics
import time
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from numbers.models import Operator, PhoneNumber
from numbers.sales import selectors

BENCH_OPERATORS = [("BENCH1", "1"), ("BENCH2", "5"), ("BENCH3", "8")]  # code, first digit after +861
INDEXES = ["number_avail_msisdn", "number_avail_suffix", "number_avail_trgm"]

# Per operator: numbers i = 0..n-1 spread over 10^8 by a multiplier coprime with 10^8 (distinct, and
# suffixes evenly spread); states like a real book: 40% never used, 25% active, 23% frozen, 12% released.
LOAD_SQL = """
INSERT INTO numbers_phonenumber
    (msisdn, range_holder_id, serving_operator_id, state, suspended_from, is_secondary,
     cancelled_at, frozen_until, released_at, updated_at)
SELECT '+861' || %(digit)s || (s.i %% 10) || lpad(((s.i * 7919 + 12345) %% 100000000)::text, 8, '0'),
       %(op)s, %(op)s,
       CASE WHEN s.r < 0.40 THEN 'available' WHEN s.r < 0.65 THEN 'active' WHEN s.r < 0.88 THEN 'frozen'
            ELSE 'available' END,
       '', s.r >= 0.88,
       CASE WHEN s.r >= 0.65 AND s.r < 0.88 THEN now() - interval '10 days'
            WHEN s.r >= 0.88 THEN now() - interval '200 days' END,
       CASE WHEN s.r >= 0.65 AND s.r < 0.88 THEN now() + interval '80 days'
            WHEN s.r >= 0.88 THEN now() - interval '110 days' END,
       CASE WHEN s.r >= 0.88 THEN now() - interval '105 days' END,
       now()
FROM (SELECT i::bigint AS i, random() AS r FROM generate_series(0, %(n)s - 1) AS i) AS s
"""

SEARCHES = [
    ("first page, no search", selectors.BookQuery()),
    ("a page deep in the book", None),  # filled in with a keyset cursor from the middle of the book
    ("ends with 8888", selectors.BookQuery(digits="8888", match=selectors.MATCH_ENDS)),
    ("contains 8888", selectors.BookQuery(digits="8888")),
    ("contains 5201314", selectors.BookQuery(digits="5201314")),
    ("ends with 88, secondary only", selectors.BookQuery(digits="88", match=selectors.MATCH_ENDS, kind="secondary")),
    ("never used only", selectors.BookQuery(kind=selectors.KIND_NEW)),
]


class Command(BaseCommand):
    help = "Benchmark the sales staff's number book on PostgreSQL: with its indexes vs without (same run)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=1_000_000, help="numbers in the table (all operators)")
        parser.add_argument("--repeat", type=int, default=15, help="timed runs per search")
        parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the searches")

    def handle(self, *args, rows, repeat, explain, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The number-book indexes are PostgreSQL's: set DATABASE_URL to a PostgreSQL database.")
        if not settings.DEBUG:
            raise CommandError("This writes a million bench rows: run it on a development database with DEBUG=true.")
        operator = self._load(rows)
        available = selectors.available_numbers(operator).count()
        deep = min(selectors.PAGE_SIZE * 1000, available // 2)  # page 1,000, or the middle of a small book
        middle = selectors.available_numbers(operator).order_by("msisdn").values_list("msisdn", flat=True)[deep]
        searches = [(name, q or selectors.BookQuery(after=middle)) for name, q in SEARCHES]
        self.stdout.write(f"numbers in table: {PhoneNumber.objects.count():,}; book of {operator.code}: "
                          f"{available:,} available; {repeat} runs each")
        with_indexes = {name: self._time(operator, q, repeat) for name, q in searches}
        plans = {name: self._plan(operator, q) for name, q in searches} if explain else {}
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX " + ", ".join(INDEXES))
            baseline = {name: self._time(operator, q, repeat) for name, q in searches}
            transaction.set_rollback(True)  # the indexes come back
        self.stdout.write(f"{'search':<32} {'indexed ms':>11} {'baseline ms':>12} {'ratio':>8} {'rows':>5}")
        for name, _q in searches:
            (fast, count), (slow, _) = with_indexes[name], baseline[name]
            self.stdout.write(f"{name:<32} {fast:>11.2f} {slow:>12.2f} {slow / fast:>7.1f}x {count:>5}")
        for name, plan in plans.items():
            self.stdout.write(f"\n-- {name}\n{plan}")

    def _load(self, rows: int) -> Operator:
        per_operator = rows // len(BENCH_OPERATORS)
        operators = []
        for code, digit in BENCH_OPERATORS:
            operator, _ = Operator.objects.get_or_create(
                code=code, defaults={"name": f"Bench {code}", "coverage_start": date(2020, 1, 1)}
            )
            operators.append(operator)
            have = PhoneNumber.objects.filter(range_holder=operator).count()
            if have == per_operator:
                continue
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM numbers_phonenumber WHERE range_holder_id = %s", [operator.pk])
                cursor.execute(LOAD_SQL, {"digit": digit, "op": operator.pk, "n": per_operator})
            self.stdout.write(f"loaded {per_operator:,} numbers for {code} in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            # VACUUM also moves the GIN index's pending list (fastupdate) into the index proper.
            cursor.execute("VACUUM ANALYZE numbers_phonenumber")
        return operators[0]

    @staticmethod
    def _time(operator, query, repeat: int) -> tuple[float, int]:
        selectors.number_book_page(operator, query)  # warm the cache: measure the query, not the disk
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            page = selectors.number_book_page(operator, query)
            runs.append((time.perf_counter() - started) * 1000)
        return statistics.median(runs), len(page.numbers)

    @staticmethod
    def _plan(operator, query) -> str:
        queryset = selectors.number_book_search(selectors.available_numbers(operator), query)
        if query.after:
            queryset = queryset.filter(msisdn__gt=query.after)
        return queryset.order_by("msisdn")[: selectors.PAGE_SIZE + 1].explain(analyze=True, buffers=True)
