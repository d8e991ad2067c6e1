# The two README commands: `make demo` and `make test`. Each installs what it needs, idempotently.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff check include dags plugins tests bench
MYPY := $(VENV)/bin/mypy
STAMP := $(VENV)/.installed
# Debian packages the tests and the demo use (installed only when missing).
APT_PACKAGES ?= prometheus prometheus-alertmanager prometheus-node-exporter wrk nginx redis-server chromium docker-compose

export PYTHONPATH := $(CURDIR)
export XDG_RUNTIME_DIR ?= /tmp/runtime-$(shell id -u)

.PHONY: demo up down test lint unit bench screenshots apt venv clean help

help:
	@echo "make demo   run the launch against the built-in demo target"
	@echo "make up     start the whole stack in the background (UI address and credentials printed)"
	@echo "make down   stop the stack that make up started"
	@echo "make test   lint, type-check and run every test against real services"
	@echo "make bench  benchmarks (numbers and ratios, no pass/fail)"
	@echo "make screenshots  regenerate docs/launch_board.png (runs the browser test)"

$(STAMP): requirements.txt requirements-dev.txt requirements-bootstrap.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-bootstrap.txt
	$(PY) -m uv pip install -q --python $(PY) -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

apt:
	@if [ -n "$(strip $(APT_PACKAGES))" ]; then scripts/ensure-apt.sh $(APT_PACKAGES); fi

lint: venv
	$(RUFF)
	$(MYPY)

# Three passes: everything that tolerates a shared machine on four pytest workers (their tests
# wait on soaks and services more than they compute: 1.3 of the 2 cores on 2026-12-04); then the
# test marked `alone` (the go/no-go's 1000-user load test, which reads this machine's CPU as the
# database host's) by itself; then the modules marked `serial`, each a whole Airflow stack, one
# per worker side by side (an idle stack takes 0.13 of a core; each module's tests run one by one).
test: venv apt
	$(RUFF)
	scripts/audit.sh
	@# Start (and configure) PostgreSQL once, before the pytest workers share it.
	$(PY) -c "from include.devservices.postgres import start_server; start_server()"
	@# mypy (a minute of one core when its cache is cold) runs beside the parallel pass, which
	@# tolerates a shared machine, never beside the serial one. Every check always runs, so one
	@# report shows every failure; the target fails if any did.
	@mkdir -p .run; parallel=0; alone=0; serial=0; types=0; \
	$(MYPY) > .run/mypy.log 2>&1 & mypy_pid=$$!; \
	$(PY) -m pytest tests -n 4 --dist loadfile --durations=30 -m "not serial and not alone" || parallel=$$?; \
	wait $$mypy_pid || types=$$?; cat .run/mypy.log; \
	$(PY) -m pytest tests --durations=5 -m "alone" || alone=$$?; \
	$(PY) -m pytest tests -n 3 --dist loadfile --durations=10 -m "serial" || serial=$$?; \
	echo "exit codes: mypy $$types, pytest parallel pass $$parallel, alone $$alone, serial pass $$serial"; \
	test $$types -eq 0 && test $$parallel -eq 0 && test $$alone -eq 0 && test $$serial -eq 0

bench: venv apt
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The browser test, asked to save the Launch board's screenshot where the README shows it.
screenshots: venv apt
	LAUNCH_SCREENSHOT_OUT=docs/launch_board.png $(PY) -m pytest tests/browser -q

demo: venv apt
	$(PY) -m include.demo

up: venv apt
	$(PY) -m include.demo --up

down: venv
	$(PY) -m include.demo --down

clean:
	rm -rf $(VENV) .run launch .mypy_cache .ruff_cache
