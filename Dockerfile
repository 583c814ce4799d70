FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN DEBUG=1 python manage.py collectstatic --no-input && useradd --create-home clearance \
    && mkdir -p /app/var && chown -R clearance /app/var
USER clearance
EXPOSE 8000
# gunicorn.conf.py: the serving model (gthread workers, keep-alive) and the redacted access log.
CMD ["gunicorn", "portal.wsgi:application", "--config", "gunicorn.conf.py"]
