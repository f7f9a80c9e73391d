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
    path("records/", views.outlet_records, name="records"),
]
