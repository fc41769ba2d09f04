# The two commands of the README: `make demo` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-sqlite test-postgres install build translations messages embed lint check-built bench audit audit-ui

$(BIN)/leadgate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/leadgate

translations: install
	@if ls capture/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
	  $(BIN)/pybabel -q compile -d capture/translations; fi

## Extract marked strings into the template and merge them into every catalogue; then translate.
CATALOGUES := capture/translations
LOCALES := da sv
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _ -k _l -k gettext -k ngettext -k lazy_gettext \
	  --add-location=file --sort-by-file --project=Leadgate \
	  -o $(CATALOGUES)/messages.pot .
	@for locale in $(LOCALES); do \
	  if [ -f $(CATALOGUES)/$$locale/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel -q update --ignore-obsolete -i $(CATALOGUES)/messages.pot -d $(CATALOGUES) -l $$locale; \
	  else \
	    $(BIN)/pybabel -q init -i $(CATALOGUES)/messages.pot -d $(CATALOGUES) -l $$locale; \
	  fi; \
	done

embed: install
	@if [ -f embed/build.py ]; then $(BIN)/python embed/build.py; fi
	@if [ -f embed/build_track.py ]; then $(BIN)/python embed/build_track.py; fi
	@if [ -f bench/embed_size.py ]; then $(BIN)/python bench/embed_size.py; fi

build: translations embed

## Start the app on the embedded defaults (SQLite, local disk, console mail) with demo data.
demo: build
	$(BIN)/leadgate db upgrade
	$(BIN)/leadgate demo
	LEADGATE_DRAIN_OUTBOX_IN_PROCESS=1 $(BIN)/leadgate run --port 5000

lint: install check-built
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r capture magnets wsgi.py gunicorn.conf.py leadgate_gunicorn.py
	$(BIN)/lint-imports --no-cache  # package layers and no import cycles ([tool.importlinter])

## The compiled catalogues and the minified embed are committed, so `pip install .` needs no
## build step (README, "Production deployment"). Rebuild them aside and fail on any difference.
## Runs in `make lint`, before `make build` rewrites them.
check-built: install
	$(BIN)/python embed/build.py --check
	$(BIN)/python embed/build_track.py --check
	@for locale in $(LOCALES); do \
	  $(BIN)/pybabel -q compile -i $(CATALOGUES)/$$locale/LC_MESSAGES/messages.po \
	    -o $(VENV)/check-$$locale.mo && \
	  cmp -s $(VENV)/check-$$locale.mo $(CATALOGUES)/$$locale/LC_MESSAGES/messages.mo || \
	  { echo "$(CATALOGUES)/$$locale/LC_MESSAGES/messages.mo is not the compiled messages.po:" \
	    "run \`make translations\` and commit it" >&2; exit 1; }; \
	done

# The slow fault tests start their own PostgreSQL whatever the pass: run them once, in the
# PostgreSQL pass when there is one. Both passes run on two pytest-xdist workers (each with its
# own database schema and ports); `make test PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= 2
XDIST := $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS))
test-sqlite: build
	env -u TEST_DATABASE_URL $(BIN)/pytest $(XDIST) $(if $(TEST_DATABASE_URL),-m "not slow") $(PYTEST_ARGS)

test-postgres: build
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(BIN)/pytest $(XDIST) $(PYTEST_ARGS); \
	else echo "TEST_DATABASE_URL is not set: PostgreSQL run skipped"; fi

## Install everything and run the whole suite: lint, SQLite, then PostgreSQL if configured.
test: lint test-sqlite test-postgres

## Print the benchmark table (bench/run --quick for a 20-second smoke run).
bench: build
	bench/run $(BENCH_ARGS)

## Scan a local instance with sqlmap and wapiti (bounded, loopback only; not part of CI): see
## audit/run.py. The scanners get their own venv: wapiti3 pins versions our app cannot run on.
AUDIT_VENV ?= .venv-audit

$(AUDIT_VENV)/bin/wapiti:
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install -q --upgrade pip
	$(AUDIT_VENV)/bin/pip install -q sqlmap wapiti3
	touch $@

audit: build $(AUDIT_VENV)/bin/wapiti
	AUDIT_BIN=$(AUDIT_VENV)/bin $(BIN)/python audit/run.py

## Lighthouse (mobile), axe-core and the Nu HTML checker over a local demo instance; not in CI.
## The npm tools go into a cache dir, never the repository. Needs Node 20+, Java and Chromium.
## AUDIT_ARGS="--screenshots docs/screenshots" also writes the screenshots of the docs.
AUDIT_CACHE ?= $(HOME)/.cache/leadgate-audit
AUDIT_TOOLS := lighthouse@12.2.3 axe-core@4.10.2 vnu-jar@24.10.17
audit-ui: build
	@node --version | grep -Eq '^v(2[0-9]|[3-9][0-9])\.' || { echo "audit-ui needs Node 20+ (node --version)"; exit 1; }
	@mkdir -p $(AUDIT_CACHE)
	@[ -f $(AUDIT_CACHE)/package.json ] || echo '{"private": true}' > $(AUDIT_CACHE)/package.json
	@[ -f $(AUDIT_CACHE)/.installed-$(subst @,-,$(subst $() ,_,$(AUDIT_TOOLS))) ] || \
	  { cd $(AUDIT_CACHE) && npm i -E --no-audit --no-fund $(AUDIT_TOOLS) && \
	    touch .installed-$(subst @,-,$(subst $() ,_,$(AUDIT_TOOLS))); }
	$(BIN)/python tools/audit_ui.py --cache $(AUDIT_CACHE) $(AUDIT_ARGS)
