# logto-m2m-django: `make demo`, `make test`, `make docs`, `make bench`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint typecheck pytest docs install-docs venv install-dev install-example system-deps matrix bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

# The client distribution (client/, logto-m2m-client) is a dependency of the server package and is not on
# PyPI yet: every install names it too.
install-example: venv
	$(BIN)/pip install --quiet -e ./client -e ".[example]"

install-dev: venv
	$(BIN)/pip install --quiet -e ./client -e ".[dev]"

## demo: install, migrate SQLite, seed the shopping example, print curl lines, serve on 127.0.0.1:8000
demo: install-example
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py m2m demo --curl --base-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT) --noreload

## system-deps: Debian packages the browser tests and benchmarks need (installed only when missing)
system-deps:
	@scripts/system-deps.sh

## test: lint, type checks, migrations check, the documentation site (strict) and the whole test suite
test: install-dev system-deps lint typecheck docs pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy logto_m2m_django client/logto_m2m_client
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run

pytest:
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## docs: the documentation site (mkdocs.yml, docs/) into site/; any warning (a broken link or anchor) fails it
install-docs: venv
	@$(BIN)/python -c "import mkdocs, material" 2>/dev/null || $(BIN)/pip install --quiet -e ./client -e ".[docs]"

docs: install-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## matrix: the suite on another Python / Django (e.g. make matrix MATRIX_PY=3.13 MATRIX_DJANGO='django>=6,<7')
MATRIX_PY ?= 3.13
MATRIX_DJANGO ?= django>=6,<7
MATRIX_VENV := .venv-py$(MATRIX_PY)
matrix:
	scripts/matrix.sh "$(MATRIX_PY)" "$(MATRIX_DJANGO)" "$(MATRIX_VENV)" $(PYTEST_ARGS)

## bench: this package against django-oauth-toolkit, simplejwt and the bare DRF floors; one table, JSON in bench/results/
## (installs the bench extra when missing, and wrk through apt when root; BENCH_ARGS=--quick for a short check)
.PHONY: install-bench
install-bench: venv
	$(BIN)/pip install --quiet -e ./client -e ".[bench]"

bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)

## load: 60 s of concurrent token and API requests against gunicorn on PostgreSQL + Redis (not part of make test)
## (needs DATABASE_URL=postgres://... and REDIS_URL; LOAD_ARGS=--duration 20 for a shorter run)
.PHONY: load
load: install-dev
	$(BIN)/python scripts/load.py $(LOAD_ARGS)

## load-cluster: the reference deployment for 60 s: HAProxy -> 2 gunicorn instances -> PgBouncer -> PostgreSQL,
## Redis shared (installs haproxy and pgbouncer through apt when missing; DATABASE_URL defaults to the local
## PostgreSQL, REDIS_URL to its db 0; LOAD_ARGS=--duration 20 for a shorter run). Report in bench/results/.
.PHONY: load-cluster cluster-deps
cluster-deps:
	@scripts/cluster-deps.sh

load-cluster: install-dev cluster-deps
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/logto_m2m} REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
		$(BIN)/python scripts/load.py --cluster $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .venv-py* .pytest_cache .mypy_cache .ruff_cache *.egg-info client/*.egg-info db.sqlite3 site
