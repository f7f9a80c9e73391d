"""The platform API under /api/v1/ (paths without a trailing slash, as the contract says)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from renewal.api import views as api

app_name = "api"

urlpatterns = [
    path("deliveries", api.DeliveryListView.as_view(), name="deliveries"),
    path("deliveries/<uuid:delivery_id>/confirm", api.DeliveryConfirmView.as_view(), name="delivery-confirm"),
    path("recycled-numbers", api.RecycledNumbersView.as_view(), name="recycled-numbers"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
