"""Thin tasks of the conformance feature: each takes ids and calls one service."""

from celery import shared_task

from renewal.conformance import services


# A check takes up to a minute or two (it waits for the platform's answers): it runs on the default queue, never
# on the pump's or the interactive one. acks_late: a check lost with its worker is left `running` and refused
# no longer once it is older than the longest a check can take.
@shared_task(name="renewal.conformance.conformance_check_task", acks_late=True, reject_on_worker_lost=True)
def conformance_check_task(check_id: int) -> str | None:
    check = services.conformance_run(check_id=check_id)
    return check.state if check is not None else None


@shared_task(name="renewal.conformance.platforms_dying_task", acks_late=True, reject_on_worker_lost=True)
def platforms_dying_task() -> int:
    return len(services.platforms_dying_flag())
