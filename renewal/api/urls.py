"""The platform API under /api/v1/ (paths without a trailing slash, as the contract says)."""

from csp.constants import NONCE
from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from renewal.api import views as api

app_name = "api"

# The docs pages are third-party templates (templates/drf_spectacular/): their inline styles carry a nonce, and
# Swagger UI's start-up script is served as a file (the split view), so the policy needs no 'unsafe-inline'.
docs_csp = csp_update({"style-src": [NONCE]})

urlpatterns = [
    path("deliveries", api.DeliveryListView.as_view(), name="deliveries"),
    path("deliveries/<uuid:delivery_id>/confirm", api.DeliveryConfirmView.as_view(), name="delivery-confirm"),
    path("recycled-numbers", api.RecycledNumbersView.as_view(), name="recycled-numbers"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("redoc", docs_csp(SpectacularRedocView.as_view(url_name="api:schema")), name="redoc"),
]
