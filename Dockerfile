# The portal's image: the web (gunicorn, the default command) and the workers (qcluster) run
# from it; deploy/compose.yaml runs both, with migrations as a one-shot service before them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --user-group --home-dir /srv/portal --shell /usr/sbin/nologin portal
WORKDIR /srv/portal

# Runtime packages only, each checked by its hash (requirements.txt, `make requirements`).
COPY requirements.txt ./
RUN pip install --require-hashes -r requirements.txt

COPY . .
# Static files at build time: collectstatic reads settings (a throwaway key: nothing is signed)
# and touches no database. WhiteNoise serves them from STATIC_ROOT at run time.
ENV DEV_TOOLS=0 \
    STATIC_ROOT=/srv/portal/staticfiles
RUN SECRET_KEY=collectstatic-at-build-only python manage.py collectstatic --noinput

USER portal
EXPOSE 8000
CMD ["gunicorn", "-c", "python:portal.gunicorn_conf", "portal.wsgi", "--workers", "4", "--bind", "0.0.0.0:8000"]
