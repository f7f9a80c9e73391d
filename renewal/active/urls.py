from django.urls import path

from renewal.active import views

app_name = "subscriber"

urlpatterns = [
    path("", views.start, name="start"),
    path("code", views.verify, name="verify"),
    path("logout", views.logout, name="logout"),
    path("number", views.overview, name="overview"),
    path("unbind", views.unbind_create, name="unbind"),
    path("requests/<uuid:pk>", views.request_detail, name="request_detail"),
    path("requests/<uuid:pk>/status", views.request_status, name="request_status"),
    path("requests/<uuid:pk>/proof", views.request_proof, name="request_proof"),
    path("report", views.report_create, name="report"),
    path("reports/<str:reference>", views.report_detail, name="report_detail"),
    path("evidence/<uuid:pk>", views.evidence_file, name="evidence"),
    path("evidence/<uuid:pk>/preview", views.evidence_preview, name="evidence_preview"),
]
