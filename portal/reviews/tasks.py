from celery import shared_task

from portal.reviews.reminders import reviews_notify_new, reviews_notify_overdue


@shared_task(name="reviews.notify_new", acks_late=True)
def notify_new() -> int:
    return reviews_notify_new()


@shared_task(name="reviews.notify_overdue", acks_late=True)
def notify_overdue() -> int:
    return reviews_notify_overdue()
