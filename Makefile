# Two commands: `make run` (the portal with demo data, worker and beat) and `make test`.
# Embedded defaults (SQLite, filesystem broker) unless DATABASE_URL / CELERY_BROKER_URL are set.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo's simulated Internet platforms listen here (127.0.0.1 only).
SIMULATOR_PORT ?= 8090

.PHONY: run test venv lock lint openapi deploy-check messages screenshots bench bench-smoke bench-national-day bench-services clean

# Dependencies: requirements.txt (what runs in production) and requirements-dev.txt (tests, benchmarks, the browser,
# linters) name the direct ones; requirements.lock and requirements-dev.lock pin every package with its hashes, for
# every supported Python (uv's universal resolution from 3.11 up), and are what gets installed, with
# --require-hashes. After changing a requirements file, `make lock` regenerates both locks (it needs PyPI).
LOCK_INPUTS = requirements.txt requirements-dev.txt
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"
# A digest of the requirements files, written into the locks: installing refuses a lock older than its inputs.
LOCK_DIGEST = $$(cat $(LOCK_INPUTS) | sha256sum | cut -c1-16)

$(BIN)/.installed: requirements.lock requirements-dev.lock $(LOCK_INPUTS)
	@for lock in requirements.lock requirements-dev.lock; do \
		if ! grep -qx "# inputs: $(LOCK_DIGEST)" $$lock; then \
			echo "$$lock is older than $(LOCK_INPUTS): run \`make lock\` and commit the locks." >&2; exit 1; \
		fi; \
	done
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

venv: $(BIN)/.installed

# Regenerate both locks from the requirements files (uv, from requirements-dev.txt, installed into the venv). The
# development lock is constrained by the runtime lock, so every runtime package has the same version in both.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$$(grep '^uv==' requirements-dev.txt)"
	$(BIN)/uv pip compile $(LOCK_FLAGS) requirements.txt -o requirements.lock
	$(BIN)/uv pip compile $(LOCK_FLAGS) requirements-dev.txt -c requirements.lock -o requirements-dev.lock
	for lock in requirements.lock requirements-dev.lock; do \
		sed -i "1i # inputs: $(LOCK_DIGEST)" $$lock; \
	done

# Under honcho (portal/devrun.py, the Procfile): one Ctrl-C or SIGTERM stops every process; a port in use or a
# second `make run` is refused before anything changes; each process logs to var/log/<process>.log.
run: $(BIN)/.installed
	@MAKE_RUN_STARTED=$${MAKE_RUN_STARTED:-$$(date +%s.%N)} DEBUG=$${DEBUG:-true} ADMIN_2FA_RELAXED=$${ADMIN_2FA_RELAXED:-true} HOST=$(HOST) PORT=$(PORT) \
		SIMULATOR_PORT=$(SIMULATOR_PORT) exec $(BIN)/python -m portal.devrun

# On SQLite (default) the tests marked `services` are deselected; with DATABASE_URL they all run.
# pytest's exit status 5 (no tests ran) fails like any other.
test: $(BIN)/.installed
	@if [ -n "$$DATABASE_URL" ]; then \
		echo "== tests on $${DATABASE_URL%%://*} with broker $${CELERY_BROKER_URL:-filesystem://}"; \
		$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	else \
		echo "== tests on SQLite (tests marked 'services' are deselected: they need PostgreSQL and Redis)"; \
		$(BIN)/python -m pytest -m "not services" $(PYTEST_ARGS); status=$$?; \
	fi; \
	if [ $$status -eq 5 ]; then echo "No tests ran: that is a failure." >&2; fi; \
	exit $$status

# Benchmarks print figures and ratios against a baseline measured in the same run (bench/run_all.py) and write
# bench/results.json and bench/REPORT.md. They need PostgreSQL, Redis and RabbitMQ and write only to scratch copies
# of BENCH_DATABASE_URL's database; when it is not given, the local services are started if they are down
# (.ci/services.sh, as CI does). `make bench-smoke` is CI's small pass; `make bench-national-day` runs a national
# working day's sizes scaled by BENCH_SCALE (e.g. BENCH_SCALE=0.05) and prints the projected hours.
# (make takes no options of its own named like ours: `make bench BENCH_ARGS=--national-day` is the same.)
BENCH_GIVEN := $(origin BENCH_DATABASE_URL)$(origin DATABASE_URL)
BENCH_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/portal)
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/15
BENCH_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672//
BENCH_ENV = DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=$(BENCH_BROKER_URL) BENCH_AMQP_URL=$(BENCH_AMQP_URL)
bench-services:
	@if [ "$(BENCH_GIVEN)" = "undefinedundefined" ]; then .ci/services.sh postgres redis rabbitmq; fi

bench: $(BIN)/.installed bench-services
	$(BENCH_ENV) $(BIN)/python bench/run_all.py $(BENCH_ARGS)

bench-smoke: $(BIN)/.installed bench-services
	$(BENCH_ENV) $(BIN)/python bench/run_all.py --smoke $(BENCH_ARGS)

bench-national-day: $(BIN)/.installed bench-services
	$(BENCH_ENV) $(BIN)/python bench/run_all.py --national-day $(BENCH_ARGS)

# Static checks: style, the import contracts (.importlinter), types (mypy.ini), migrations in step with the models,
# no duplicated code, and the zh-hans catalogue in step with the code (needs gettext). The app `numbers` shadows a
# standard-library module: tools that import it run from the repository's root after portal.stdlib_numbers has moved
# the standard one aside (docs/architecture.md).
PRODUCT_PY = $$(git ls-files 'numbers/*.py' 'renewal/*.py' 'portal/*.py' | grep -v /migrations/)
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	DEBUG=true $(BIN)/python -c "import sys; sys.path.insert(0, '.'); import portal.stdlib_numbers; \
		from importlinter.cli import lint_imports_command; sys.argv = ['lint-imports']; lint_imports_command()"
	DEBUG=true $(BIN)/python -m mypy numbers renewal portal
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true $(BIN)/pylint --disable=all --enable=duplicate-code --min-similarity-lines=8 --score=n $(PRODUCT_PY)
	DEBUG=true $(BIN)/python manage.py catalogue check

# The OpenAPI document, committed as docs/openapi.yaml (in English, as the API answers by default): regenerate it
# after changing an endpoint; tests/renewal/api/test_openapi.py fails while the code and the file differ.
openapi: $(BIN)/.installed
	DEBUG=true $(BIN)/python manage.py spectacular --lang en --validate --fail-on-warn --file docs/openapi.yaml

# The zh-hans catalogue (docs/translations.md): makemessages with the project's options, merge every
# locale/pending/*.po (a pending translation fills only an empty or fuzzy entry), compilemessages. Needs gettext.
messages: $(BIN)/.installed
	DEBUG=true $(BIN)/python manage.py catalogue merge

# The README's screenshots of the clerk's disclosure and receipt in zh-hans, taken by the browser test that walks them
# (PostgreSQL and Chromium, as `make test` with DATABASE_URL; see docs/translations.md).
screenshots: $(BIN)/.installed
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/journeys/test_clerk_disclosure_browser.py

# The deploy files (deploy/), each validated with a named tool: the compose-spec schema (or docker compose config),
# systemd-analyze verify, gunicorn --check-config, crossplane, dockerfile-parse (deploy/check.py says how).
deploy-check: $(BIN)/.installed
	$(BIN)/python deploy/check.py

clean:
	rm -rf var .pytest_cache
