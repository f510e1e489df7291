# tinyml-cosim — the two commands the README starts with:
#   make demo   set up a fresh Debian 12 machine (idempotent) and run the main job end to end on QEMU
#   make test   the CI tier: everything that must hold on every change (under 20 minutes on 2 cores)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
COSIM := $(VENV)/bin/cosim
APT_PACKAGES := qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib gdb-multiarch \
  make gcc clang-format
# The project's own C, checked with clang-format (.clang-format); not the generated tables (`make generated`).
C_FORMAT_FILES := $(sort $(shell find src/tinyml_cosim/firmware -name '*.[ch]' ! -name 'dsp_tables.[ch]' \
  ! -name kws_mel_tables.h ! -name model_params.h) $(wildcard tests/support/*.c))
PYTEST_ARGS ?=
# Firmware builds of the checkout workflow (make demo, make test, the Robot targets) go to the repo's build/;
# `cosim` on its own builds into $COSIM_BUILD_DIR, else the per-user cache directory (~/.cache/tinyml-cosim/build).
export COSIM_BUILD_DIR ?= $(CURDIR)/build

.PHONY: setup apt venv plugin-header lock demo test test-long lint format bench clean

setup: apt venv plugin-header

# The QEMU plugins' header (exact counts of foreign firmware, the cycle model): fetched once into the per-user cache
# (`qemu-plugin-header` below). A machine that cannot reach Debian's source packages runs without both plugins: runs
# say so (counts labelled approximate, no cycle estimate) and the tests that need them skip with the reason.
plugin-header: venv
	@$(MAKE) --no-print-directory qemu-plugin-header >/dev/null || \
	  echo "note: QEMU's qemu-plugin.h is unavailable: foreign counts are approximate, no cycle estimates (make qemu-plugin-header)"

# Debian packages, only those missing, without recommends. Root runs apt directly; others go through sudo.
apt:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	python3 -c "import venv, ensurepip" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

# Versions from the lock (constraints.txt); pyproject.toml holds the bounds.
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# Re-resolve the lock: a fresh venv with the newest releases within pyproject's bounds (the dev extra, which holds
# robot, golden and sweep; not train), frozen into constraints.txt under its header comment. Then `make test` and commit.
LOCK_VENV := build/venv-lock
lock:
	rm -rf $(LOCK_VENV)
	python3 -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --upgrade pip
	$(LOCK_VENV)/bin/pip install -q -e '.[dev]'
	{ grep '^#' constraints.txt; $(LOCK_VENV)/bin/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(LOCK_VENV)

demo: setup
	@echo "== boards"
	$(COSIM) boards
	@echo "== build the demo firmware (int8 fully connected layer) for the STM32F405 and run it on QEMU"
	$(COSIM) run --board stm32f405 --out out/demo $$($(COSIM) build --board stm32f405 --app demo)
	@echo "== the same ELF source on the Cortex-M3 board"
	$(COSIM) run --board stm32f205 --out out/demo-f205 $$($(COSIM) build --board stm32f205 --app demo)
	@echo "== a firmware that faults: the run ends with status fault, PC and CFSR (exit code 1 is expected)"
	$(COSIM) run --board stm32f405 --out out/fault $$($(COSIM) build --board stm32f405 --app fault_bus); test $$? -eq 1
	@echo "== a reference application end to end: activity_tracker (int8 CNN) on 50 s of a held-out wearer; verdicts"
	$(COSIM) run scenarios/motion/daily.yaml --out out/activity
	@echo "== run records: out/demo/run.json, out/demo-f205/run.json, out/fault/run.json; report: out/activity/report.html"

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	clang-format --dry-run --Werror $(C_FORMAT_FILES)
	$(PY) -m pytest -q --durations=30 $(PYTEST_ARGS)

# The long tier re-synthesizes the keyword spotter's held-out speech (models/kws/dataset.py): espeak-ng and sox.
test-long: setup
	@$(MAKE) --no-print-directory apt APT_PACKAGES="espeak-ng sox"
	$(PY) -m pytest -q -m long $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	clang-format --dry-run --Werror $(C_FORMAT_FILES)

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	clang-format -i $(C_FORMAT_FILES)

bench: setup
	$(PY) bench/bench_spine.py

clean:
	rm -rf build out .pytest_cache .ruff_cache

# Robot Framework (tinyml_cosim.robot, robot_tests/): every suite in parallel with pabot, one process per core; results in
# out/robot/ (output.xml, log.html, report.html, xunit.xml). ROBOT_ARGS adds options, e.g.
# ROBOT_ARGS='--variable ENGINE:renode' or ROBOT_ARGS='--include fast'. `robot-fast` is the short fast tier.
# --no-pabotlib: the suites need no PabotLib, whose fixed port (8270) would clash between concurrent runs.
ROBOT_ARGS ?=
ROBOT_OUT := out/robot
.PHONY: robot robot-fast docs

robot: setup
	$(VENV)/bin/pabot --no-pabotlib --processes $$(nproc) --command $(abspath $(VENV))/bin/robot --end-command \
	  --outputdir $(ROBOT_OUT) --xunit xunit.xml $(ROBOT_ARGS) robot_tests

robot-fast: setup
	$(VENV)/bin/robot --include fast --outputdir $(ROBOT_OUT)/fast --xunit xunit.xml $(ROBOT_ARGS) robot_tests

# The live Renode tier, not part of `make test` (CI has no Renode): every pytest test marked `renode` (hygiene, the
# engine, the renode-test example under the real renode-test), then every Robot suite on Renode, as `make robot` does
# with ENGINE:renode (results in out/robot/renode/). Needs `renode` (and `renode-test`) on PATH, e.g.
# PATH=/opt/renode:$PATH; without it, one line says so and the target succeeds.
.PHONY: test-renode
test-renode: setup
	@if ! command -v renode >/dev/null; then \
	  echo "test-renode: skipped: renode is not on PATH (install Renode 1.16 and put its directory on PATH)"; exit 0; \
	fi; \
	set -x; \
	$(PY) -m pytest -q -m renode $(PYTEST_ARGS) && \
	$(VENV)/bin/pabot --no-pabotlib --processes $$(nproc) --command $(abspath $(VENV))/bin/robot --end-command \
	  --outputdir $(ROBOT_OUT)/renode --xunit xunit.xml --variable ENGINE:renode $(ROBOT_ARGS) robot_tests

# Keyword documentation of the Robot library.
docs: setup
	mkdir -p docs/robot
	$(VENV)/bin/python -m robot.libdoc --name tinyml_cosim.robot tinyml_cosim.robot docs/robot/tinyml_cosim.robot.html

# Generated C sources (tables of the fixed-point DSP and the keyword spotter's mel filters) from their Python twins;
# tests/test_dsp.py and tests/apps/test_kws.py fail while they are stale.
TWIN_PATH := src/tinyml_cosim/firmware/dsp:src/tinyml_cosim/firmware/apps/keyword_spotter
.PHONY: generated
generated: setup
	PYTHONPATH=$(TWIN_PATH) $(PY) -m cosim_dsp.tables --write
	PYTHONPATH=$(TWIN_PATH) $(PY) -m audio_twin --write

# QEMU's qemu-plugin.h for the exact-count plugin (src/tinyml_cosim/engines/qemu/plugin/icount.c): Debian ships it in
# no binary package, so it comes from the source package of the installed qemu (a deb-src line for the same suites,
# `apt-get source --download-only`, 24 MB, of which only the header is kept in ~/.cache/tinyml-cosim). Without it
# foreign firmware's counts are labelled approximate. QEMU_PLUGIN_INCLUDE=dir points at a header elsewhere.
# Needs the venv (`make setup`).
DEB_SRC_LIST := /etc/apt/sources.list.d/tinyml-cosim-src.sources
.PHONY: qemu-plugin-header
qemu-plugin-header:
	@if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  sed 's/^Types: deb$$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | $$sudo tee $(DEB_SRC_LIST) >/dev/null && \
	  $$sudo apt-get update -qq; \
	fi
	$(PY) -m tinyml_cosim.engines.qemu.plugin fetch-header
	$(PY) -m tinyml_cosim.engines.qemu.plugin build
