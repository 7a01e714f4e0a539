"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from merit_bank import create_app

app = create_app()
