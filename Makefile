# Two commands: `make run` (the portal with demo data, worker and beat) and `make test`.
# Embedded defaults (SQLite, filesystem broker) unless DATABASE_URL / CELERY_BROKER_URL are set.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo's simulated Internet platforms listen here (127.0.0.1 only).
SIMULATOR_PORT ?= 8090

.PHONY: run test venv lint bench bench-smoke bench-national-day bench-services clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.installed

run: $(BIN)/.installed
	@export DEBUG=$${DEBUG:-true}; \
	$(BIN)/python manage.py migrate --no-input -v0 && \
	$(BIN)/python manage.py createcachetable && \
	$(BIN)/python manage.py load_demo --base-url http://$(HOST):$(PORT) && \
	echo "Starting the worker, beat, the platform simulator and the web server (Ctrl-C stops them all)…" && \
	trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A portal worker --loglevel=INFO --concurrency=2 & \
	$(BIN)/celery -A portal beat --loglevel=INFO & \
	$(BIN)/python manage.py simulate_platforms --demo --port $(SIMULATOR_PORT) --api-url http://$(HOST):$(PORT) & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT) --noreload & \
	wait

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
# and no duplicated code. The app `numbers` shadows a standard-library module: tools that import it run from the
# repository's root after portal.stdlib_numbers has moved the standard one aside (docs/architecture.md).
PRODUCT_PY = $$(git ls-files 'numbers/*.py' 'renewal/*.py' 'portal/*.py' | grep -v /migrations/)
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	DEBUG=true $(BIN)/python -c "import sys; sys.path.insert(0, '.'); import portal.stdlib_numbers; \
		from importlinter.cli import lint_imports_command; sys.argv = ['lint-imports']; lint_imports_command()"
	DEBUG=true $(BIN)/python -m mypy numbers renewal portal
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true $(BIN)/pylint --disable=all --enable=duplicate-code --min-similarity-lines=8 --score=n $(PRODUCT_PY)

clean:
	rm -rf var .pytest_cache
