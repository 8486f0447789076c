# JLR data platform. `make help` lists the targets; every target is safe to run twice.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV  := .venv
PY    := $(VENV)/bin/python
DBT   := $(VENV)/bin/dbt
ENV ?= dev
comma := ,
# Exports the local stack's settings (ports, users, generated passwords) for dbt and psql.
WITH_ENV := eval "$$($(PY) -m ingestion.config.settings --shell)" &&

SCALE ?= 0.01
SEED  ?= 42
DAYS  ?= 1
TABLES ?=
FULL_REFRESH ?=
DOCS_PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: help setup up down status seed changes discover ingest reconcile package deploy docs-publish build docs lint test bench demo lock clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install system packages (MariaDB, PostgreSQL, Java 17, Chromium) and the Python venvs
	@bash scripts/setup.sh

up: setup ## Start MariaDB (127.0.0.1:3307) and PostgreSQL (127.0.0.1:5433) under .local/
	@bash scripts/stack.sh up

down: ## Stop the local servers (data stays in .local/)
	@if [ -x $(PY) ]; then bash scripts/stack.sh down; else echo "nothing to stop"; fi

status: ## Show the local servers, their ports, data directories and logs
	@bash scripts/stack.sh status

seed: up ## (Re)create the demo source database jlr_ops: SCALE=0.01 SEED=42
	@$(PY) -m ingestion seed --scale $(SCALE) --seed $(SEED)

changes: up ## Apply DAYS=1 days of realistic change to the demo source
	@$(PY) -m ingestion changes --days $(DAYS) --seed $(SEED)

discover: up ## Write a source file for a database: DATABASE=name OUT=file.yml [INCLUDE=a*,b] [EXCLUDE=tmp_*]
	@$(PY) -m ingestion discover --database $(DATABASE) $(if $(OUT),--out $(OUT)) $(if $(INCLUDE),--include '$(INCLUDE)') $(if $(EXCLUDE),--exclude '$(EXCLUDE)')

ingest: ## Extract -> crawl -> curate -> load; SOURCE=file.yml TABLES=a,b FULL_REFRESH=1 DRY_RUN=1 WAIT=s LOG_FORMAT=json TARGET=aws ENV=dev
ifeq ($(TARGET),aws)
	@$(VENV)/bin/python -m infra.deploy run --env $(ENV) $(if $(TABLES),--tables $(TABLES)) $(if $(FULL_REFRESH),--full-refresh)
else
	@$(MAKE) --no-print-directory up
	@$(PY) -m ingestion ingest $(if $(SOURCE),--source $(SOURCE)) $(if $(TABLES),--tables $(TABLES)) $(if $(FULL_REFRESH),--full-refresh) $(if $(DRY_RUN),--dry-run) $(if $(WAIT),--wait $(WAIT)) $(if $(LOG_FORMAT),--log-format $(LOG_FORMAT))
endif

reconcile: up ## Source vs warehouse staging for every table: counts, keys, per-column checksums; SOURCE=file.yml TABLES=a,b
	@$(WITH_ENV) $(PY) -m ingestion reconcile $(if $(SOURCE),--source $(SOURCE)) $(if $(TABLES),--tables $(TABLES))

package: setup ## Build the Lambda zip, the Glue artifacts, the templates and the source files under dist/<version>/; SOURCES=a.yml,b.yml
	@$(VENV)/bin/python -m infra.package $(foreach f,$(subst $(comma), ,$(SOURCES)),--source $(f))

deploy: package ## Deploy to AWS: ENV=dev ARTIFACTS_BUCKET=... SUBNETS=subnet-a,subnet-b SECURITY_GROUPS=sg-x
	@$(VENV)/bin/python -m infra.deploy deploy --env $(ENV) --artifacts-bucket $(ARTIFACTS_BUCKET) --subnets $(SUBNETS) --security-groups $(SECURITY_GROUPS)

docs-publish: ## Upload the static dbt docs site (make docs first) to the stack's docs bucket; ENV=dev
	@$(VENV)/bin/python -m infra.deploy publish-docs --env $(ENV)

build: up ## The scheduled dbt build (models, data tests, seeds, snapshots; unit tests run in make test) with OpenLineage events
	@$(WITH_ENV) $(PY) -m ingestion dbt build --exclude-resource-type unit_test

docs: up ## Generate the dbt docs site with column lineage (target/static_index.html, target/column_lineage.json) and serve it on 127.0.0.1:8080
	@$(WITH_ENV) $(DBT) docs generate --static
	@$(WITH_ENV) $(PY) -m ingestion lineage
	@echo "docs: static site target/static_index.html; serving on http://127.0.0.1:$(DOCS_PORT) (Ctrl-C stops)"
	@$(WITH_ENV) $(DBT) docs serve --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

lint: up ## ruff and bandit on the Python code; sqlfluff (Redshift dialect, dbt templater) on the dbt SQL
	@$(VENV)/bin/ruff check ingestion glue_jobs tests bench infra
	@$(VENV)/bin/ruff format --check ingestion glue_jobs tests bench infra
	@$(VENV)/bin/bandit -q -c pyproject.toml -r ingestion glue_jobs infra bench
	@$(WITH_ENV) $(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/tests dbt_project/snapshots

test: setup ## Run the test suite (starts the local stack; tests use their own databases and lake)
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: up ## Benchmarks: extract vs the mariadb client, every stage (1M rows) with the curate stage vs Spark's floor and DuckDB, cdc vs cursor + key comparison (1M rows, 1 % changed), load vs psql \copy, a day's ingest of the demo and one with nothing changed, incremental dbt (SCALE=1 and 3), make ingest at SCALE=5 with peak memory per stage (bench/results/)
	@$(PY) -m bench.extract_bench
	@$(PY) -m bench.pipeline_bench
	@$(PY) -m bench.cdc_bench
	@$(PY) -m bench.daily_bench
	@$(PY) -m bench.dbt_bench
	@$(PY) -m bench.dbt_bench --scale 3 --results bench/results/dbt-scale3.json
	@$(PY) -m bench.scale_bench

demo: ## The whole demo: setup, up, seed, ingest, dbt build, docs generate
	@$(MAKE) --no-print-directory up
	@$(MAKE) --no-print-directory seed
	@$(MAKE) --no-print-directory ingest
	@$(WITH_ENV) $(PY) -m ingestion dbt build
	@$(WITH_ENV) $(DBT) docs generate --static
	@$(WITH_ENV) $(PY) -m ingestion lineage
	@$(PY) -m ingestion where

lock: ## Re-resolve requirements.lock from pyproject.toml (needs the package registry)
	@rm -rf .lock-venv && python3 -m venv .lock-venv && .lock-venv/bin/pip install -q -e '.[dev]'
	@(echo "# Resolved dependency set installed by 'make setup' (regenerate: make lock). Python 3.11."; \
	  .lock-venv/bin/pip freeze --exclude-editable) > requirements.lock && rm -rf .lock-venv
	@echo "requirements.lock: $$(grep -vc '^#' requirements.lock) packages"

clean: down ## Stop the servers and delete .local/ (all local data), target/ and logs/
	@rm -rf .local target logs
