"""The portal's URLs plus a bare DRF view: the same key authentication and throttling, one indexed lookup."""

from django.urls import path
from rest_framework.response import Response

from numbers.models import PhoneNumber
from portal.urls import urlpatterns as portal_urls
from renewal.api.auth import PlatformAPIView, QueryScope


class BareLookupView(PlatformAPIView):
    permission_classes = [QueryScope]

    def post(self, request):
        item = request.data["items"][0]
        rows = PhoneNumber.objects.filter(msisdn=item["msisdn"]) if "msisdn" in item else \
            PhoneNumber.objects.filter(msisdn_sha256=item["msisdn_sha256"])
        found = rows.values_list("id", flat=True).first()
        return Response({"results": [{"index": 0, "answer": "no_data" if found is None else "no"}]})


urlpatterns = [path("bench/bare-lookup", BareLookupView.as_view()), *portal_urls]
