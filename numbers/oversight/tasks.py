"""The risk-list task: thin, idempotent (a list already claimed or finished is left alone)."""

from celery import shared_task

from numbers.oversight.services import risk_list_apply


@shared_task(name="numbers.oversight.risk_list_apply_task", acks_late=True, reject_on_worker_lost=True)
def risk_list_apply_task(list_id: int) -> None:
    risk_list_apply(list_id=list_id)
