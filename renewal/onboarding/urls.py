"""URLs of the registration page and the platform account area, included at /platform/."""

from django.urls import path

from renewal.onboarding import views

app_name = "platform"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("register/sent/", views.register_done, name="register_done"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("set-password/<uidb64>/<token>/", views.SetPasswordView.as_view(), name="set_password"),
    path("two-factor/", views.two_factor_view, name="two_factor"),
    path("", views.overview, name="overview"),
    path("sandbox/ping/", views.test_event, name="test_event"),
    path("sandbox/check/", views.check_run, name="check_run"),
    path("sandbox/go-live/", views.go_live, name="go_live"),
    path("keys/", views.keys, name="keys"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
    path("secret/", views.secret, name="secret"),
    path("settings/", views.platform_settings, name="settings"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<uuid:pk>/", views.delivery, name="delivery"),
    path("deliveries/<uuid:pk>/redeliver/", views.delivery_redeliver, name="delivery_redeliver"),
    path("alerts/", views.alerts, name="alerts"),
    path("team/", views.team, name="team"),
]
