# champion: `make run` starts a server, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PORT   ?= 8443

.PHONY: run test fuzz lint format bench bench-2w bench-growth bench-swap clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt pyproject.toml
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

# `make run PORT=9443` when 8443 is taken.
run: $(VENV)/.runtime
	$(BIN)/champion serve --tls --port $(PORT)

# The suite runs on every core (pytest-xdist), a whole test module per worker so that a module's tests still
# share its one server; one module's waits on its servers overlap another's work.
TEST_WORKERS ?= auto
test: $(VENV)/.dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The long fuzz: schemathesis over every operation and the JSON Patch properties, with many more
# examples than `make test` runs, drawn afresh each time (tests/fuzz).
FUZZ_EXAMPLES ?= 200
fuzz: $(VENV)/.dev
	CHAMPION_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff format --check champion tests
	$(BIN)/ruff check champion tests
	$(BIN)/mypy champion

format: $(VENV)/.dev
	$(BIN)/ruff format champion tests
	$(BIN)/ruff check --fix champion tests

# Every figure beside a limit measured in the same run (HTTP floor, compute time, the plain FastAPI app);
# about 10.5 minutes, the points that matter again on 2 workers included. bench-2w: everything on 2 uvicorn workers. bench-growth: how the cost
# grows (10 deployments, large requests, 410 swaps); about 6 minutes.
WRK := @command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; } \
		|| echo "bench: wrk could not be installed; using the Python load generator"

# BENCH_BEFORE=<commit>: champion as of that commit too, at the same points (today's figures beside the new).
BENCH_BEFORE ?=
BENCH_BEFORE_ARG := $(if $(BENCH_BEFORE),--before $(BENCH_BEFORE))

bench: $(VENV)/.runtime
	$(WRK)
	$(BIN)/python bench/run.py $(BENCH_BEFORE_ARG) $(BENCH_ARGS)

bench-2w: $(VENV)/.runtime
	$(WRK)
	$(BIN)/python bench/run.py --workers 2 $(BENCH_BEFORE_ARG) $(BENCH_ARGS)

bench-growth: $(VENV)/.runtime
	$(WRK)
	$(BIN)/python bench/growth.py $(BENCH_GROWTH_ARGS)

bench-swap: $(VENV)/.runtime
	$(BIN)/python bench/swap.py $(BENCH_SWAP_ARGS)

clean:
	rm -rf $(VENV) .champion .pytest_cache .mypy_cache .ruff_cache .hypothesis
