# Merit Bank: gunicorn behind a reverse proxy; the database is SQLite in /app/instance or PostgreSQL by DATABASE_URL.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 MERIT_BANK_ENV=production
WORKDIR /app

# The Chinese font embedded in printed PDFs (certificates, statements); see PDF_FONT in the README.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY merit_bank ./merit_bank
RUN pip install -e . && pybabel compile -f -d merit_bank/translations

COPY wsgi.py babel.cfg ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static

RUN useradd --system --uid 10001 --home /app merit \
    && mkdir -p /app/instance \
    && chown -R merit /app/instance
USER merit

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

# Migrations run on every start (a no-op when the schema is current), then gunicorn with threads.
CMD ["sh", "-c", "flask --app merit_bank db upgrade && exec gunicorn --bind 0.0.0.0:8000 --workers ${WEB_WORKERS:-2} --threads ${WEB_THREADS:-4} --access-logfile - wsgi:app"]
