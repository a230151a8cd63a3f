"""Webhooks: subscriptions (`subscriptions.py`), URL checks (`urls.py`), sending the outbox (`delivery.py`)."""
