# Front Desk tasks. `make run` and `make test` are all a fresh clone needs (Python 3.11+, Node 20+).
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
SYNCED := $(VENV)/.synced
# The JavaScript SDK and widget (Node 20+): installed when its lock file changes, built when
# its sources change; the server serves sdk/js/dist at /sdk/v1.
SDK := sdk/js
ifneq ($(wildcard $(SDK)/package-lock.json),)
SDK_INSTALLED := $(SDK)/node_modules/.installed
SDK_BUILT := $(SDK)/dist/frontdesk.js
endif

.PHONY: run test lint format bench setup clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(VENV)/bin/python
	@touch $@

$(SDK_INSTALLED): $(SDK)/package.json $(SDK)/package-lock.json
	cd $(SDK) && npm ci --no-audit --no-fund
	@touch $@

$(SDK_BUILT): $(SDK_INSTALLED) $(shell find $(SDK)/src $(SDK)/scripts -type f 2>/dev/null) $(wildcard $(SDK)/tsconfig*.json)
	cd $(SDK) && npm run build
	@test -s $@ && touch $@

setup: $(SYNCED) $(SDK_BUILT)  ## create .venv and install everything from the lock files; build the SDK

run: $(SYNCED) $(SDK_BUILT)  ## migrate and start the server on the embedded default (SQLite under ./var)
	$(VENV)/bin/frontdesk serve

test: $(SYNCED) $(SDK_BUILT)  ## the whole suite: the SDK's own tests, then SQLite always, PostgreSQL and Redis when reachable
ifdef SDK_BUILT
	cd $(SDK) && npm test
endif
	$(VENV)/bin/pytest -q

lint: $(SYNCED)  ## ruff, formatting, mypy and models-vs-migrations
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	FRONTDESK_DATABASE_URL=sqlite+aiosqlite:///$$(mktemp -d)/check.db sh -c '$(VENV)/bin/frontdesk migrate >/dev/null && $(VENV)/bin/alembic check'

format: $(SYNCED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(SYNCED)  ## every benchmark, each against its baseline (docs/benchmarks.md)
	$(VENV)/bin/python -m bench.webchat --update-docs
	$(VENV)/bin/python -m bench.pipeline --update-docs
	$(VENV)/bin/python -m bench.tenancy --update-docs
	$(VENV)/bin/python -m bench.intent --update-docs
	$(VENV)/bin/python -m bench.engine --rounds 10
	$(VENV)/bin/python -m bench.ingest --update-docs

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache $(SDK)/node_modules $(SDK)/dist
