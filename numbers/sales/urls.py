"""URLs of the sales staff's pages, included at /staff/."""

from django.urls import path

from numbers.sales import views

app_name = "staff"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.book, name="book"),
    path("numbers/<int:pk>/", views.number_offer, name="offer"),
    path("receipts/<int:pk>/", views.receipt, name="receipt"),
    path("receipts/<int:pk>/signature.png", views.receipt_signature, name="receipt_signature"),
    path("receipts/<int:pk>/sms", views.receipt_sms, name="receipt_sms"),
    path("records/", views.outlet_records, name="records"),
    path("password/", views.password_change, name="password_change"),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirm.as_view(), name="password_reset_confirm"),
]
