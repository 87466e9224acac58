# Two commands for a fresh machine; each sets itself up (virtualenv + installs pinned by constraints.txt).
#   make verify   verify the shipped claims on the embedded Gemma 3 270M, print their verdicts and render the
#                 report (data/report/paper.md, data/report/site/index.html); exits with pytest's status
#   make report   render the report from the results already in data/results (no model)
#   make test     lint, type-check and run the test suite
#   make gate     re-verify the claims against the committed ledger (reports/ledger.json); exit 10 on a regression
#   make replay   re-assert every claim from the row-level evidence in the store, without loading a model
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.harness-installed

.PHONY: setup verify report gate replay test browser-deps bench clean-cache

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and exactly pinned: a looser requirement would pull the CUDA build (several GB)
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# the report renders whatever the claims left (a failed claim is shown with its verdict); the exit status is
# pytest's, or the report's when every claim passed but the report's surface check did not
verify: setup
	$(BIN)/python -m pytest claims -p no:cacheprovider -o log_cli=true --log-cli-level=INFO -rA $(ARGS); \
	status=$$?; $(BIN)/python -m harness.report; report=$$?; \
	if [ $$status -ne 0 ]; then exit $$status; else exit $$report; fi

report: setup
	$(BIN)/python -m harness.report $(ARGS)

gate: setup
	$(BIN)/python -m pytest claims -p no:cacheprovider -rA --claims-gate $(ARGS)

replay: setup
	$(BIN)/python -m pytest claims -p no:cacheprovider -rA --claims-replay $(ARGS)

# headless Chromium for the report's browser test; a failed install is tolerated (the test then skips, saying so)
browser-deps:
	@test -x /usr/bin/chromium || apt-get install -y chromium chromium-driver \
		|| (apt-get update -qq && apt-get install -y chromium chromium-driver) \
		|| echo "browser-deps: could not install chromium; the report's browser test will be skipped"

test: setup browser-deps
	$(BIN)/ruff check harness tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest tests -n 2 --dist loadgroup -q $(ARGS)

bench: setup
	$(BIN)/python bench/bench_pipeline.py $(ARGS)

clean-cache:
	rm -rf data/cache data/results
