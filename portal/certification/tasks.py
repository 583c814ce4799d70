from celery import shared_task

from portal.certification.services import campaign_close_due, campaign_send_reminders


@shared_task(name="certification.send_reminders", acks_late=True)
def send_reminders() -> int:
    return campaign_send_reminders()


@shared_task(name="certification.close_due", acks_late=True)
def close_due() -> int:
    return campaign_close_due()
