# Zero-shot evaluation suite for SAM-family models. `make help` lists the targets.
# Everything runs in the project's virtual environment .venv, made and filled from requirements.lock on first use;
# `make test VENV=/other/venv` uses another one.
VENV ?= .venv
PYTHON = $(VENV)/bin/python
MODEL ?= repvit
DEVICE ?= cpu
ARGS ?=
# The PyTorch release requirements.lock is made for (what CI and the GPU sessions run).
TORCH_PIN = torch==2.14.1 torchvision==0.29.1
# The lock is made by uv (pinned here), for every platform; `make lock` remakes it after a change of pyproject.toml.
UV = uv==0.13.9
EVAL = $(PYTHON) run_eval.py --model $(MODEL) --device $(DEVICE) $(ARGS)

REGRESSION_BASELINE = tests/data/regression_baseline
# The demo's tasks with fixed untrained weights, plus a metric on real reference inputs (the BSDS bench's own
# soft maps) so that a change of the benchmark shows as a non-zero diff.
REGRESSION_RUN = $(PYTHON) -m evals.demo --untrained --skip latency --out results/ci && \
	$(PYTHON) run_eval.py --task bsds --model bench_png --predictions tests/data/bsds500_bench/png \
	--data-root datasets/sample --out results/ci

.PHONY: help install lock demo app test test-slow test-browser tables report regression regression-baseline eval-latency eval-bsds eval-coco eval-seginw eval-davis eval-uvo eval-sod eval-mvtec

help:
	@echo "install      make .venv and install the suite with the exact versions of requirements.lock"
	@echo "lock         remake requirements.lock from pyproject.toml (uv; needs PyPI)"
	@echo "demo         every landed task on the bundled sample data, then the tables (CPU, minutes)"
	@echo "app          the interactive demo on http://127.0.0.1:7860 (ARGS=\"--models repvit,mobilesam --untrained\")"
	@echo "test         the test suite without the slow tests"
	@echo "test-slow    only the slow tests (heavy models, full-size data)"
	@echo "test-browser only the browser tests: the report and the demo in headless Chromium (apt-get install chromium)"
	@echo "tables       render results/ into results/TABLES.md"
	@echo "report       render results/ into results/report.html: tables, figures, examples (ARGS=\"--out D --data-root R\")"
	@echo "regression   the fixed CI run (sample data, untrained weights) compared with $(REGRESSION_BASELINE)"
	@echo "regression-baseline   rewrite that baseline after an intended change of a protocol or metric"
	@echo "eval-<task>  one task: latency bsds coco seginw davis uvo sod mvtec (MODEL=repvit DEVICE=cpu ARGS=...)"

# Installs once per change of the lock (the stamp file in the venv records it). sam2 (a source distribution whose
# build imports torch) is built after the rest, against the venv's torch and without its optional CUDA extension:
# built in isolation it would first download a second torch. pysodmetrics, the SOD metrics' reference in the tests,
# caps numpy / opencv / scikit-image below the lock's versions: it goes in without its dependencies (scikit-learn,
# its only import-time need, is in the lock).
install: $(VENV)/.installed
$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	grep -v '^sam2==' requirements.lock > $(VENV)/requirements-without-sam2.txt
	$(PYTHON) -m pip install -r $(VENV)/requirements-without-sam2.txt
	SAM2_BUILD_CUDA=0 $(PYTHON) -m pip install --no-deps --no-build-isolation $$(grep '^sam2==' requirements.lock)
	$(PYTHON) -m pip install --no-deps -e .
	$(PYTHON) -m pip install --no-deps pysodmetrics==1.6.2
	touch $@

lock:
	python3 -m venv .lock-venv && .lock-venv/bin/pip install -q $(UV)
	printf '%s\n' $(TORCH_PIN) > .lock-venv/constraints.txt
	.lock-venv/bin/uv pip compile pyproject.toml --extra test --extra detect --extra app --extra coreml --universal \
		--constraint .lock-venv/constraints.txt --no-header -o .lock-venv/requirements.lock
	{ echo "# The exact version of every package \`make install\` installs, for every platform (see the markers)."; \
	  echo "# Made by \`make lock\`: $(UV) pip compile of pyproject.toml, extras test, detect, app and coreml, with $(TORCH_PIN)."; \
	  cat .lock-venv/requirements.lock; } > requirements.lock
	rm -rf .lock-venv

demo: install
	$(PYTHON) -m evals.demo

app: install
	$(PYTHON) app/app.py $(ARGS)

test: install
	$(PYTHON) -m pytest -q

test-slow: install
	$(PYTHON) -m pytest -q -m slow

test-browser: install
	$(PYTHON) -m pytest -q -m browser

tables: install
	$(PYTHON) run_eval.py --tables

report: install
	$(PYTHON) run_eval.py --report $(ARGS)

regression: install
	$(REGRESSION_RUN)
	$(PYTHON) run_eval.py --compare $(REGRESSION_BASELINE) --out results/ci

regression-baseline: install
	$(REGRESSION_RUN)
	$(PYTHON) run_eval.py --compare $(REGRESSION_BASELINE) --out results/ci --update-baseline

eval-latency eval-bsds eval-coco eval-seginw eval-davis eval-uvo eval-sod eval-mvtec:
	$(EVAL) --task $(@:eval-%=%)
