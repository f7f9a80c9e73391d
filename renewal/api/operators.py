"""The operator endpoints: an operator's back office reports cancellations and ports, as JSON items or a feed file.

`POST /api/v1/cancellations` runs the cancellation feed (numbers.feeds) on up to 1,000 JSON items and answers each
item with the feed's outcome or reason code; `POST /api/v1/feeds` uploads a feed file as the admin page does and
`GET /api/v1/feeds/{id}` follows its import. Operator keys only, and each key reports its own operator's numbers.
"""

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from numbers.audit import audit_record
from numbers.feeds import services as feeds
from numbers.models import AuditAction, FeedKind, FeedStatus, FeedUpload
from numbers.ratelimit import client_address
from renewal.api.auth import OperatorAPIView
from renewal.api.errors import PayloadTooLarge, TooManyItems
from renewal.api.paging import iso
from renewal.api.serializers import THROTTLED, ErrorDetailSerializer, error_responses

MAX_ITEMS = 1000
# Rejected lines a feed's status shows; the report (report_url) has all of them.
REJECTED_PREVIEW = 100
# Room in a feed upload's body for the multipart envelope and the other fields, beside the file itself.
MULTIPART_SLACK = 64 * 1024
_REASONS = ", ".join(f"`{code}`" for code in feeds.REASONS)


def _errors(**extra: str) -> dict:
    return error_responses({400: "validation_error, invalid_json or too_many_items", 401: "not_authenticated",
                            403: "wrong_scope (a platform key)", 413: "payload_too_large", 429: THROTTLED,
                            **{int(k): v for k, v in extra.items()}})


def _actor(key) -> str:
    return f"api key {key.prefix}"


# --- POST /api/v1/cancellations ------------------------------------------------------------------


class CancellationItemSerializer(serializers.Serializer):
    msisdn = serializers.CharField(help_text="National or E.164.")
    cancelled_at = serializers.CharField(help_text="ISO 8601; without an offset, in the portal's time zone.")
    reason = serializers.ChoiceField(choices=["cancel", "port_out"], required=False, help_text="Default cancel.")
    to_operator = serializers.CharField(required=False, allow_blank=True,
                                        help_text="For port_out: the receiving operator's code.")


class CancellationsSerializer(serializers.Serializer):
    items = CancellationItemSerializer(many=True, help_text="1 to 1,000 items.")
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Validate and answer; change nothing.")


class CancellationResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the request.")
    outcome = serializers.ChoiceField(choices=["applied", "already_applied"], required=False,
                                      help_text="With dry_run, applied means it would be.")
    duplicate_of = serializers.IntegerField(required=False, help_text="An identical earlier item, counted once.")
    error = ErrorDetailSerializer(required=False, help_text=f"The feed's reason codes: {_REASONS}.")


class CancellationCountsSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    applied = serializers.IntegerField()
    already_applied = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rejected_by_reason = serializers.DictField(child=serializers.IntegerField())


class CancellationsAnswerSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    counts = CancellationCountsSerializer()
    results = CancellationResultSerializer(many=True)


def _item_error(item) -> str | None:
    """Why an item cannot be read as a feed line at all (its fields' types); None when it can."""
    if not isinstance(item, dict):
        return _("An item is a JSON object: msisdn, cancelled_at, reason, to_operator.")
    for name in ("msisdn", "cancelled_at"):
        if not isinstance(item.get(name), str):
            return _("%(field)s is required, as a string.") % {"field": name}
    for name in ("reason", "to_operator"):
        if name in item and not isinstance(item[name], str | None):
            return _("%(field)s is a string.") % {"field": name}
    for name in ("msisdn", "cancelled_at", "reason", "to_operator"):
        # No number, time or code holds a NUL, and PostgreSQL's text cannot hold one (the staging table's COPY).
        if "\x00" in (item.get(name) or ""):
            return _("%(field)s holds a NUL character.") % {"field": name}
    return None


class CancellationsView(OperatorAPIView):
    """Report cancellations and ports of the key's operator, as the feed file does, item by item."""

    def body_limit(self) -> int:
        return settings.API_MAX_ITEMS_BODY_BYTES

    @extend_schema(
        operation_id="cancellations_create", request=CancellationsSerializer,
        responses={200: CancellationsAnswerSerializer, **_errors()},
    )
    def post(self, request):
        items, dry_run = self._read(request.data)
        errors: dict[int, str] = {}
        rows = []
        for index, item in enumerate(items):
            problem = _item_error(item)
            if problem:
                errors[index] = problem
                continue
            # The feed numbers lines from 1 (after a header); here a line is the item's index.
            rows.append(feeds.CancellationRow(line=index, msisdn=item["msisdn"], cancelled_at=item["cancelled_at"],
                                              reason=item.get("reason") or "", to_operator=item.get("to_operator")
                                              or ""))
        outcomes: dict[int, feeds.LineOutcome] = {}

        def collect(summary, lines) -> None:
            outcomes.update((o.line, o) for o in lines)

        summary = feeds.cancellations_import(operator=self.operator, rows=rows, actor=_actor(request.auth),
                                             dry_run=dry_run, report=collect, all_lines=True)
        results = [self._result(index, errors.get(index), outcomes.get(index)) for index in range(len(items))]
        rejected = dict(summary.rejected)
        if errors:
            rejected["invalid_line"] = rejected.get("invalid_line", 0) + len(errors)
        counts = {"items": len(items), "applied": summary.applied, "already_applied": summary.already_applied,
                  "duplicates": summary.duplicates, "rejected": sum(rejected.values()),
                  "rejected_by_reason": dict(sorted(rejected.items()))}
        # As a feed upload is: who reported what for which operator (the numbers are in the events, not here).
        audit_record(actor=None, actor_name=_actor(request.auth), action=AuditAction.CANCELLATIONS_REPORT,
                     obj=self.operator, address=client_address(request),
                     detail={"operator": self.operator.code, "dry_run": dry_run, **counts})
        return Response({"dry_run": dry_run, "counts": counts, "results": results})

    @staticmethod
    def _read(data) -> tuple[list, bool]:
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise exceptions.ValidationError({"items": [_("Send a JSON object with a list of items: "
                                                          "{\"items\": [...], \"dry_run\": false}.")]})
        items = data["items"]
        if len(items) > MAX_ITEMS:
            raise TooManyItems(_("At most %(n)d items in one call.") % {"n": MAX_ITEMS})
        if not items:
            raise exceptions.ValidationError({"items": [_("Send 1 to %(n)d items.") % {"n": MAX_ITEMS}]})
        dry_run = data.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise exceptions.ValidationError({"dry_run": [_("true or false.")]})
        return items, dry_run

    @staticmethod
    def _result(index: int, problem: str | None, outcome: feeds.LineOutcome | None) -> dict:
        if problem is not None:
            return {"index": index, "error": {"code": "invalid_line", "message": problem}}
        if outcome is None:  # not reported by the import: cannot happen, but never answer without a result
            return {"index": index, "error": {"code": "invalid_line", "message": str(feeds.REASONS["invalid_line"])}}
        if outcome.outcome == "rejected":
            return {"index": index, "error": {"code": outcome.reason, "message": outcome.message
                                              or str(feeds.REASONS.get(outcome.reason, ""))}}
        result = {"index": index, "outcome": outcome.outcome}
        if outcome.duplicate_of is not None:
            result["duplicate_of"] = outcome.duplicate_of
        return result


# --- POST /api/v1/feeds, GET /api/v1/feeds/{id} --------------------------------------------------


class LimitedDiskUploadHandler(TemporaryFileUploadHandler):
    """Write the uploaded file to a temporary file on disk as it arrives; stop at FEED_UPLOAD_MAX_BYTES.

    The Content-Length check comes first (body_limit); this one holds a body sent without a length too.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.FEED_UPLOAD_MAX_BYTES:
            raise PayloadTooLarge(_("The file is larger than %(n)d bytes: split it.")
                                  % {"n": settings.FEED_UPLOAD_MAX_BYTES})
        return super().receive_data_chunk(raw_data, start)


@extend_schema_field({"type": "string", "format": "binary", "contentMediaType": "text/csv"})
class CsvFileField(serializers.FileField):
    """A file part of a multipart body (the schema says so: a FileField alone is described as a URI)."""


class FeedUploadRequestSerializer(serializers.Serializer):
    file = CsvFileField(help_text="The CSV file, as the admin upload page takes it (docs/feed.md).")
    kind = serializers.ChoiceField(choices=FeedKind.values)
    dry_run = serializers.BooleanField(required=False, default=False)


class FeedStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=FeedKind.values)
    dry_run = serializers.BooleanField()
    state = serializers.ChoiceField(choices=FeedStatus.values)
    uploaded_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    progress = serializers.DictField(child=serializers.IntegerField(), help_text="processed and lines.")
    counts = serializers.DictField(help_text="applied, already_applied, duplicates, rejected, rejected_by_reason.")
    rejected_lines = serializers.ListField(child=serializers.DictField(),
                                           help_text=f"The first {REJECTED_PREVIEW}: line, msisdn, reason, message.")
    error = serializers.CharField(help_text="Why the import failed (state failed).")
    report_url = serializers.CharField(allow_null=True, help_text="The whole report as CSV (an operator key).")


class _FeedDetail(OperatorAPIView):
    def upload(self, feed_id: int) -> FeedUpload:
        # Another operator's feed is a 404, never a 403.
        upload = FeedUpload.objects.filter(pk=feed_id, operator_id=self.operator.pk).first()
        if upload is None:
            raise exceptions.NotFound(_("No such feed."))
        return upload


def feed_status(request, upload: FeedUpload) -> dict:
    summary = upload.summary or {}
    report_url = request.build_absolute_uri(reverse("api:feed-report", args=[upload.pk])) if upload.report else None
    return {
        "id": upload.pk, "kind": upload.kind, "dry_run": upload.dry_run, "state": upload.status,
        "uploaded_at": iso(upload.uploaded_at), "started_at": iso(upload.started_at),
        "finished_at": iso(upload.finished_at),
        "progress": {"processed": upload.processed, "lines": upload.lines},
        "counts": {"applied": upload.applied, "already_applied": upload.already_applied,
                   "duplicates": summary.get("duplicates", 0), "rejected": upload.rejected,
                   "rejected_by_reason": summary.get("rejected_by_reason", {})},
        "rejected_lines": [{"line": o.line, "msisdn": o.msisdn, "reason": o.reason, "message": o.message}
                           for o in feeds.feed_report_rejected_lines(upload, limit=REJECTED_PREVIEW)],
        "error": upload.error,
        "report_url": report_url,
    }


class FeedBadFile(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "unreadable_file"


class FeedUploadView(OperatorAPIView):
    """Upload a feed file (multipart); its import runs in the background: follow it at GET /api/v1/feeds/{id}."""

    parser_classes = [MultiPartParser]

    def body_limit(self) -> int:
        return settings.FEED_UPLOAD_MAX_BYTES + MULTIPART_SLACK

    def initial(self, request, *args, **kwargs):
        # Straight to disk, whatever the size (never the whole file in memory), and no further than the limit.
        request._request.upload_handlers = [LimitedDiskUploadHandler(request._request)]
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="feeds_create", request={"multipart/form-data": FeedUploadRequestSerializer},
        responses={202: FeedStatusSerializer, **_errors(**{
            "503": "queue_unavailable (see Retry-After): the import could not be queued; the upload is kept as "
                   "failed and nothing was changed"})},
        description="400 codes beside the usual: `unreadable_file`, `not_utf8`, `invalid_csv` (the header row).",
    )
    def post(self, request):
        serializer = FeedUploadRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        file = data["file"]
        if file.size == 0:
            raise exceptions.ValidationError({"file": [_("The file is empty.")]})
        try:
            feeds.check_header(data["kind"], file)
        except feeds.FeedFileError as exc:
            raise FeedBadFile(exc.message, code=exc.code) from exc
        upload = feeds.feed_upload_create(operator=self.operator, kind=data["kind"], file=file,
                                          dry_run=data["dry_run"], actor_name=_actor(request.auth),
                                          address=client_address(request), language=get_language())
        upload.refresh_from_db()
        response = Response(feed_status(request, upload), status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("api:feed", args=[upload.pk])
        return response


class FeedView(_FeedDetail):
    """A feed upload's state, progress, counts by reason and first rejected lines (the key's operator's only)."""

    @extend_schema(operation_id="feeds_retrieve", responses={200: FeedStatusSerializer,
                                                             **_errors(**{"404": "not_found"})})
    def get(self, request, feed_id: int):
        return Response(feed_status(request, self.upload(feed_id)))


class FeedReportView(_FeedDetail):
    """The feed's whole report as CSV: every rejected line with its reason (404 until the import is done)."""

    def perform_content_negotiation(self, request, force=False):
        # The answer is a CSV file whatever Accept says (errors are JSON, as everywhere).
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(operation_id="feeds_report", responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="line,msisdn,outcome,reason,message"),
        **_errors(**{"404": "not_found"})})
    def get(self, request, feed_id: int):
        upload = self.upload(feed_id)
        if not upload.report:
            raise exceptions.NotFound(_("The report is written when the import is done."))
        return FileResponse(upload.report.open("rb"), as_attachment=True, content_type="text/csv; charset=utf-8",
                            filename=f"feed-{upload.pk}-report.csv")

