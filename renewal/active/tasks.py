"""Active renewal's tasks. Their names are the ones they had before the active package: queued messages work."""

from celery import shared_task

from renewal.active.services import reports_retention_sweep, unbind_deadline_sweep, unbind_summary_send
from renewal.active.sms import SmsSendError, get_backend, sms_code_send


@shared_task(name="renewal.unbind.unbind_deadline_sweep_task", acks_late=True, reject_on_worker_lost=True)
def unbind_deadline_sweep_task() -> int:
    return unbind_deadline_sweep()


@shared_task(
    name="renewal.sms.sms_code_send_task", acks_late=True, reject_on_worker_lost=True,
    autoretry_for=(SmsSendError,), retry_backoff=2, retry_backoff_max=60, max_retries=4,
)
def sms_code_send_task(msisdn: str, language: str | None = None) -> None:
    """Issue and send a code to `msisdn` if it is in service; a failed send is logged and retried.

    A code lives 5 minutes, so a short Celery retry (not an outbox row) is enough;
    a retry issues a fresh code, replacing the one that was not delivered.
    """
    sms_code_send(msisdn=msisdn, language=language)


@shared_task(name="renewal.active.reports_retention_task", acks_late=True, reject_on_worker_lost=True)
def reports_retention_task() -> int:
    """Daily: delete evidence and closed reports past the retention period (those a regulator holds stay)."""
    summary = reports_retention_sweep()
    return summary.reports_deleted + summary.evidence_deleted


@shared_task(
    name="renewal.active.unbind_summary_send_task", acks_late=True, reject_on_worker_lost=True,
    autoretry_for=(SmsSendError,), retry_backoff=5, retry_backoff_max=300, max_retries=6,
)
def unbind_summary_send_task(request_id: str) -> bool:
    """Text the summary of a finished unbind request (once: the request row records that it was sent)."""
    return unbind_summary_send(request_id=request_id)


@shared_task(
    name="renewal.active.sms_send_task", acks_late=True, reject_on_worker_lost=True,
    autoretry_for=(SmsSendError,), retry_backoff=5, retry_backoff_max=300, max_retries=6,
)
def sms_send_task(to: str, body: str) -> None:
    """Send one SMS (e.g. the electronic copy of a disclosure, asked for by a clerk)."""
    get_backend().send(to=to, body=body)
