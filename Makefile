# Targets that set up what they need on a fresh Debian machine.
#   make demo    run wingmate in the foreground on demo/ (Ctrl-C stops it)
#   make test    install test dependencies, then lint, type-check and run every test
#   make build   dist/wingmate, dist/wmpidproxy, dist/wmexec (PyInstaller, .venv-build)
#   make measure sizes and start times of the files in dist/
#   make images  wingmate:bookworm and the docker/bookworm example (root, podman)
#   make bench   wingmate against its peers, one table (root; docs/benchmarks.md)
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test unit lint system-packages build measure images bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check \
		-r requirements.txt -r requirements-dev.txt
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python wingmate.py --config demo

system-packages:
	sh tests/install-system-packages.sh tests/system-packages.txt

lint: $(BIN)/.installed
	$(BIN)/ruff check _common tests wingmate.py wmpidproxy.py wmexec.py
	$(BIN)/mypy --strict _common

unit: $(BIN)/.installed
	$(BIN)/python -m pytest -q tests/unit

test: $(BIN)/.installed system-packages lint
	$(BIN)/python -m pytest -q -ra tests

build:
	sh tests/containers/build.sh binaries

measure: build
	sh tests/containers/build.sh measure

images:
	sh tests/containers/build.sh images

bench: $(BIN)/.installed
	sh bench/setup.sh
	$(PYTHON) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
