# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum requirements.txt 2>/dev/null | cut -c1-12)
FLASK  := $(BIN)/flask --app run

.PHONY: install run test test-fast test-deps psql bench clean translations

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)
	$(BIN)/python -m app.i18n compile

# After adding or changing user-visible strings: extract, merge into app/translations/zh/.../messages.po,
# fill Chinese field labels from the seed, compile, list what still lacks a translation.
translations: $(STAMP)
	$(BIN)/python -m app.i18n update

run: install
	$(FLASK) crm serve

# tests/ by layer: unit, web, database, cli, browser (Chromium); helpers in tests/support.
# pytest-xdist: TEST_WORKERS processes share one server and one prepared template (tests/conftest.py);
# a file's tests stay on one worker, so a module's prepared instance is built once. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test: install test-deps
	$(PYTEST)

test-fast: install
	$(PYTEST) --ignore=tests/browser

# Debian packages the tests use: chromium (browser tests), postgresql-15 (external-server test),
# nodejs and npm (`npm ci` of axe-core for the accessibility tests, tests/support/axe).
test-deps:
	@.ci/install-test-deps

psql: install
	$(FLASK) crm psql

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache
