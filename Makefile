# The two README commands: `make demo` and `make test`. Each installs what it needs, idempotently.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff check include dags plugins tests bench
MYPY := $(VENV)/bin/mypy
STAMP := $(VENV)/.installed
# Workers of make test's parallel pass (its tests mostly wait on real services; see `test`).
TEST_WORKERS ?= 4
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

# Two passes: everything that tolerates a shared machine on four pytest workers (their tests wait
# on soaks and services more than they compute: 1.3 of the 2 cores, measured 2026-12-04); then the
# tests marked `serial` on two workers, one module each: a whole Airflow (tests/e2e, tests/celery)
# or the go/no-go's 1000-user load test, which reads this machine's CPU as the database host's.
# (Measured 2026-12-04: three stacks side by side took 8:21 against 7:26 for two, every task of a
# real stack being a new process; six parallel workers took 13:20.)
# --max-worker-restart 0: a worker that dies (pytest-timeout ends a hung test so) fails the pass at
# once; a replacement worker was seen to hang the whole run under --dist loadfile.
test: venv apt
	$(RUFF)
	@# Start (and configure) PostgreSQL once, before the pytest workers share it.
	$(PY) -c "from include.devservices.postgres import start_server; start_server()"
	@# mypy (a minute of one core when its cache is cold) runs beside the parallel pass, which
	@# tolerates a shared machine, never beside the serial one. Every check always runs, so one
	@# report shows every failure; the target fails if any did. The pip-audit probe (scripts/audit.sh,
	@# network-bound) runs beside them too.
	@mkdir -p .run; parallel=0; serial=0; types=0; audit=0; \
	$(MYPY) > .run/mypy.log 2>&1 & mypy_pid=$$!; \
	scripts/audit.sh > .run/audit.log 2>&1 & audit_pid=$$!; \
	$(PY) -m pytest tests -n $(TEST_WORKERS) --max-worker-restart 0 --dist loadfile --durations=30 -m "not serial" || parallel=$$?; \
	wait $$mypy_pid || types=$$?; cat .run/mypy.log; \
	wait $$audit_pid || audit=$$?; cat .run/audit.log; \
	$(PY) -m pytest tests -n 2 --max-worker-restart 0 --dist loadfile --durations=10 -m "serial" || serial=$$?; \
	echo "exit codes: mypy $$types, audit $$audit, pytest parallel pass $$parallel, serial pass $$serial"; \
	test $$types -eq 0 && test $$audit -eq 0 && test $$parallel -eq 0 && test $$serial -eq 0

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
