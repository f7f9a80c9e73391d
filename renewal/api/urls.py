"""The platform API under /api/v1/ (paths without a trailing slash, as the contract says)."""

from csp.constants import NONCE
from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from renewal.api import operators
from renewal.api import views as api
from renewal.api.queries import ReassignmentQueriesView
from renewal.api.unbind import DeliveryResultsView

app_name = "api"

# The docs pages are third-party templates (templates/drf_spectacular/): their inline styles carry a nonce, and
# Swagger UI's start-up script is served as a file (the split view), so the policy needs no 'unsafe-inline'.
# Both draw their icons as data: images. ReDoc adds two style elements before it reads its nonce option:
# an empty one (filled through the CSS object model, which the policy allows) and its bundle's own CSS; their
# hashes are those of drf-spectacular-sidecar's pinned ReDoc (tests/portal/test_csp_browser.py notices a change).
swagger_csp = csp_update({"style-src": [NONCE], "img-src": ["data:"]})
REDOC_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # an empty <style>
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # the bundle's CSS
]
redoc_csp = csp_update({"style-src": [NONCE, *REDOC_STYLE_HASHES], "img-src": ["data:"]})

urlpatterns = [
    path("deliveries", api.DeliveryListView.as_view(), name="deliveries"),
    path("deliveries/<uuid:delivery_id>/confirm", api.DeliveryConfirmView.as_view(), name="delivery-confirm"),
    path("deliveries/<uuid:delivery_id>/results", DeliveryResultsView.as_view(), name="delivery-results"),
    path("recycled-numbers", api.RecycledNumbersView.as_view(), name="recycled-numbers"),
    # The operator endpoints (operator keys): the cancellation feed as JSON items, feed files and their reports.
    path("cancellations", operators.CancellationsView.as_view(), name="cancellations"),
    path("feeds", operators.FeedUploadView.as_view(), name="feeds"),
    path("feeds/<int:feed_id>", operators.FeedView.as_view(), name="feed"),
    path("feeds/<int:feed_id>/report", operators.FeedReportView.as_view(), name="feed-report"),
    path("reassignment-queries", ReassignmentQueriesView.as_view(), name="reassignment-queries"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", swagger_csp(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("redoc", redoc_csp(SpectacularRedocView.as_view(url_name="api:schema")), name="redoc"),
]
