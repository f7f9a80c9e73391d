from django.contrib import admin
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/health", views.health, name="health"),
    path("staff/", include("numbers.urls")),
    path("api/v1/", include("renewal.urls")),  # the platform API (batch renewal)
]
