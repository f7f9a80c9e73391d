"""CSV export of an admin changelist, with its filters and search, streamed row by row.

The rows come from `.values_list(...).iterator(chunk_size=…)` (a server-side cursor on PostgreSQL)
and go out through a StreamingHttpResponse, so memory stays flat whether the list holds a thousand
rows or a million. Every export is written to the audit trail (who, which list, which filters, how many rows).
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, StreamingHttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from numbers.audit import audit_record
from numbers.models import AuditAction
from numbers.ratelimit import client_address

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    # What the mixin's methods call on `self` and `super()`; at run time it is a plain class.
    _ModelAdminMixin = ModelAdmin[Any]
else:
    _ModelAdminMixin = object

logger = logging.getLogger("numbers.exports")

EXPORT_CHUNK_SIZE = 2000
EXPORT_PERMISSION = "numbers.export_csv"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class _Echo:
    """A file-like object whose write returns the line, so csv.writer produces strings to stream."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: object, tz: tzinfo | None = None) -> str:
    """Return a value as CSV text: local ISO times, true/false, JSON, and formulas defused."""
    if isinstance(value, str):
        text = value
    elif value is None:
        return ""
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, datetime):
        if timezone.is_naive(value):
            return value.isoformat()
        return value.astimezone(tz or timezone.get_current_timezone()).isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        return str(value)
    # E.164 numbers (+86…) stay as they are; any other text that a spreadsheet would evaluate is quoted.
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_lines(header: list[str], rows: Iterable[tuple[Any, ...]], *, batch: int = 500) -> Iterator[str]:
    """Yield the CSV text, a few hundred rows per piece (one write per row would cost the server more)."""
    writer = csv.writer(_Echo())
    tz = timezone.get_current_timezone()  # once, not per cell
    # A BOM, so that spreadsheets read UTF-8 (Chinese names) correctly.
    yield "\ufeff" + writer.writerow(header)
    pending: list[str] = []
    for row in rows:
        pending.append(writer.writerow([csv_cell(value, tz) for value in row]))
        if len(pending) >= batch:
            yield "".join(pending)
            pending.clear()
    if pending:
        yield "".join(pending)


class CountedRows:
    """An iterator of rows that counts what it has handed out."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for row in self.rows:
            self.count += 1
            yield row


def then_audit(pieces: Iterator[str], audit: Callable[[bool], None]) -> Iterator[str]:
    """Yield the export, then write its audit entry with the rows actually sent (complete or cut short).

    The row count is known only once the stream has run; counting first would read a large list twice.
    """
    complete = False
    try:
        yield from pieces
        complete = True
    finally:
        audit(complete)


class CsvExportMixin(_ModelAdminMixin):
    """Adds `export.csv` to a ModelAdmin: the changelist as filtered and searched, as CSV.

    `csv_fields` lists (column header, lookup) pairs; lookups may follow foreign keys
    (`range_holder__code`), which the database joins once instead of a query per row.
    """

    csv_fields: list[tuple[str, str]] = []
    change_list_template = "admin/numbers/export_change_list.html"

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_export_csv"
        return [
            path("export.csv", self.admin_site.admin_view(self.export_csv_view), name=name),
            *super().get_urls(),
        ]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(EXPORT_PERMISSION)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_export_csv": self.has_export_permission(request)}
        return super().changelist_view(request, extra_context)

    def export_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """Return the changelist's queryset (filters, search, ordering, operator scope), without paging it."""
        ChangeList = self.get_changelist(request)
        # The export needs the filtered queryset only: skip the count and the page the changelist computes.
        Unpaged = type("ExportChangeList", (ChangeList,), {"get_results": lambda cl, request: None})
        list_display = self.get_list_display(request)
        cl = Unpaged(
            request, self.model, list_display, self.get_list_display_links(request, list_display),
            self.get_list_filter(request), self.date_hierarchy, self.get_search_fields(request),
            self.get_list_select_related(request), self.list_per_page, self.list_max_show_all,
            self.list_editable, self, self.get_sortable_by(request), self.search_help_text,
        )
        queryset: QuerySet[Any] = cl.queryset
        return queryset

    def export_csv_view(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_export_permission(request):
            raise PermissionDenied
        changelist_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        try:
            queryset = self.export_queryset(request)
        except IncorrectLookupParameters:
            messages.error(request, _("These filters cannot be exported: clear them and try again."))
            return HttpResponseRedirect(changelist_url)
        header = [name for name, _lookup in self.csv_fields]
        rows = CountedRows(queryset.values_list(*[lookup for _name, lookup in self.csv_fields]).iterator(
            chunk_size=EXPORT_CHUNK_SIZE
        ))
        logger.info("csv export of %s by %s with %s", self.opts.label, request.user.get_username(),
                    request.GET.urlencode() or "no filters")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        opts, user, address = self.opts, request.user, client_address(request)
        filters = {key: values if len(values) > 1 else values[0] for key, values in request.GET.lists()}

        def audit(complete: bool) -> None:
            audit_record(actor=user, action=AuditAction.EXPORT, object_type=opts.label_lower,
                         object_repr=str(opts.verbose_name_plural), address=address,
                         detail={"list": opts.label_lower, "filters": filters, "rows": rows.count,
                                 "complete": complete})

        response = StreamingHttpResponse(then_audit(csv_lines(header, rows), audit),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.opts.model_name}-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response
