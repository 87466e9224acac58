# Two commands for a fresh machine; each sets itself up (virtualenv + installs pinned by constraints.txt).
#   make verify   verify the shipped claims on the embedded Gemma 3 270M and print their verdicts
#   make test     lint, type-check and run the test suite
#   make gate     re-verify the claims against the committed ledger (reports/ledger.json); exit 10 on a regression
#   make replay   re-assert every claim from the row-level evidence in the store, without loading a model
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.harness-installed

.PHONY: setup verify gate replay test bench clean-cache

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and exactly pinned: a looser requirement would pull the CUDA build (several GB)
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

verify: setup
	$(BIN)/python -m pytest claims -p no:cacheprovider -o log_cli=true --log-cli-level=INFO -rA $(ARGS)

gate: setup
	$(BIN)/python -m pytest claims -p no:cacheprovider -rA --claims-gate $(ARGS)

replay: setup
	$(BIN)/python -m pytest claims -p no:cacheprovider -rA --claims-replay $(ARGS)

test: setup
	$(BIN)/ruff check harness tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest tests -n 2 --dist loadgroup -q $(ARGS)

bench: setup
	$(BIN)/python bench/bench_pipeline.py $(ARGS)

clean-cache:
	rm -rf data/cache data/results
