from django.contrib import admin
from django.urls import include, path

from portal import views
from portal.metrics import metrics_view
from renewal.active import views as active_views
from renewal.api.unbind import UnbindTaskResultView

urlpatterns = [
    path("", views.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/health/live", views.health_live, name="health-live"),
    path("api/v1/health/ready", views.health_ready, name="health-ready"),
    # What monitors called before live and ready were split: readiness, as it was.
    path("api/v1/health", views.health_ready, name="health"),
    # Prometheus, from METRICS_ALLOWED_ADDRESSES only.
    path("metrics", metrics_view, name="metrics"),
    path("staff/", include("numbers.sales.urls")),
    # A platform reports an unbind task's result.
    path("api/v1/unbind-tasks/<uuid:task_id>/result", UnbindTaskResultView.as_view(), name="unbind-task-result"),
    path("api/v1/", include("renewal.api.urls")),  # the platform API (batch renewal)
    # The subscriber's pages.
    path("renew/", include("renewal.active.urls")),
    # Internet platforms: the public registration page and the platform engineers' account area.
    path("platform/", include("renewal.onboarding.urls")),
    # The short link of the summary SMS.
    path("r/<str:reference>", active_views.short_link, name="short-link"),
]
