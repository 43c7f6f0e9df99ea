# Two commands do all set-up on a fresh machine:
#   make demo   the portal with the fake provider and a worker cluster, admin login printed
#   make test   lint + the fast lane + the slow tests (SQLite by default; honours DATABASE_URL/REDIS_URL)
#   make fast   lint + the fast lane only (no cluster, no browser)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test fast lint browser benchmark requirements

# A development machine: the runtime plus the test tools (the demo's fake provider is a dev
# tool too). Production installs requirements.txt alone. Both files pin every package with
# its hash, so pip checks each download.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

# After editing requirements*.in: pin them again (pip-tools).
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links
requirements: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet pip-tools
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in

demo: $(VENV)/.installed
	DEBUG=1 $(PY) manage.py demo

# Browser tests drive Debian's Chromium; never a downloaded browser.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

# The fast lane first (no cluster, no browser, no full-size run: under a minute), then the rest.
FAST := -m "not cluster and not browser and not big"
fast: $(VENV)/.installed lint
	$(VENV)/bin/pytest $(FAST)

test: fast browser
	$(VENV)/bin/pytest -m "cluster or browser or big"

# DEBUG stays off for honest timings, so a key must be set (a throwaway one: nothing is kept).
benchmark: $(VENV)/.installed
	SECRET_KEY=$${SECRET_KEY:-benchmark-only-throwaway-key} $(PY) manage.py benchmark --preset small
