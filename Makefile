# Zero-shot evaluation suite for SAM-family models. `make help` lists the targets.
PYTHON ?= python
MODEL ?= repvit
DEVICE ?= cpu
ARGS ?=
TORCH_PIN = torch==2.14.1 torchvision==0.29.1
EVAL = $(PYTHON) run_eval.py --model $(MODEL) --device $(DEVICE) $(ARGS)

REGRESSION_BASELINE = tests/data/regression_baseline
# The demo's tasks with fixed untrained weights, plus a metric on real reference inputs (the BSDS bench's own
# soft maps) so that a change of the benchmark shows as a non-zero diff.
REGRESSION_RUN = $(PYTHON) -m evals.demo --untrained --skip latency --out results/ci && \
	$(PYTHON) run_eval.py --task bsds --model bench_png --predictions tests/data/bsds500_bench/png \
	--data-root datasets/sample --out results/ci

.PHONY: help install demo test test-slow test-browser tables report regression regression-baseline eval-latency eval-bsds eval-coco eval-seginw eval-davis eval-uvo eval-sod eval-mvtec

help:
	@echo "install      install the suite and its dependencies (pip)"
	@echo "demo         every landed task on the bundled sample data, then the tables (CPU, minutes)"
	@echo "test         the test suite without the slow tests"
	@echo "test-slow    only the slow tests (heavy models, full-size data)"
	@echo "test-browser only the browser tests: the report in headless Chromium (apt-get install chromium)"
	@echo "tables       render results/ into results/TABLES.md"
	@echo "report       render results/ into results/report.html: tables, figures, examples (ARGS=\"--out D --data-root R\")"
	@echo "regression   the fixed CI run (sample data, untrained weights) compared with $(REGRESSION_BASELINE)"
	@echo "regression-baseline   rewrite that baseline after an intended change of a protocol or metric"
	@echo "eval-<task>  one task: latency bsds coco seginw davis uvo sod mvtec (MODEL=repvit DEVICE=cpu ARGS=...)"

# Installs once per change of pyproject.toml (the stamp file records it).
install: .installed
.installed: pyproject.toml
	$(PYTHON) -m pip install $(TORCH_PIN)
	$(PYTHON) -m pip install -e '.[test]'
	$(PYTHON) -m pip install --no-deps pysodmetrics==1.6.2
	touch $@

demo: install
	$(PYTHON) -m evals.demo

test: install
	$(PYTHON) -m pytest -q

test-slow: install
	$(PYTHON) -m pytest -q -m slow

test-browser: install
	$(PYTHON) -m pytest -q -m browser

tables:
	$(PYTHON) run_eval.py --tables

report:
	$(PYTHON) run_eval.py --report $(ARGS)

regression: install
	$(REGRESSION_RUN)
	$(PYTHON) run_eval.py --compare $(REGRESSION_BASELINE) --out results/ci

regression-baseline: install
	$(REGRESSION_RUN)
	$(PYTHON) run_eval.py --compare $(REGRESSION_BASELINE) --out results/ci --update-baseline

eval-latency eval-bsds eval-coco eval-seginw eval-davis eval-uvo eval-sod eval-mvtec:
	$(EVAL) --task $(@:eval-%=%)
