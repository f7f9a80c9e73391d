"""Demo data for the feed upload page: one processed upload of CMCC cancellations and ports, with bad lines."""

import io
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from numbers.demo import PASSWORD
from numbers.feeds.services import feed_upload_process
from numbers.models import FeedKind, FeedUpload, Operator, PhoneNumber, State


def load(stdout) -> list[tuple[str, str, str]]:
    cmcc = Operator.objects.filter(code="CMCC").first()
    admin = get_user_model().objects.filter(username="cmcc-admin").first()
    if FeedUpload.objects.exists() or cmcc is None or admin is None:
        stdout.write("numbers: demo feed upload already loaded (or no demo operator)")
        return _logins()
    now = timezone.now()
    active = list(PhoneNumber.objects.filter(serving_operator=cmcc, state=State.ACTIVE).order_by("id")[:25])
    out = io.StringIO()
    out.write("msisdn,cancelled_at,reason,to_operator\n")
    for i, number in enumerate(active):
        at = (now - timedelta(hours=1 + i)).isoformat()
        out.write(f"{number.msisdn},{at},port_out,CUCC\n" if i % 5 == 0 else f"{number.msisdn},{at},,\n")
    out.write(f"+8613900000000,{now.isoformat()},,\n")  # not in the portal
    out.write(f"138 0013,{now.isoformat()},,\n")  # not a number
    out.write(f"{active[1].msisdn},{(now + timedelta(days=1)).isoformat()},,\n")  # conflicts with line 3
    upload = FeedUpload(operator=cmcc, kind=FeedKind.CANCELLATIONS, original_name="cmcc-cancellations-demo.csv",
                        uploaded_by=admin)
    upload.file.save("demo.csv", ContentFile(out.getvalue().encode()), save=True)
    feed_upload_process(upload_id=upload.pk)
    upload.refresh_from_db()
    stdout.write(f"numbers: a demo feed upload ({upload.applied} applied, {upload.rejected} rejected)")
    return _logins()


def _logins() -> list[tuple[str, str, str]]:
    return [("Operator administrator: feed uploads", "/admin/numbers/feedupload/", f"cmcc-admin / password {PASSWORD}")]
