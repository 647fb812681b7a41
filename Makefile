# Two commands work on a fresh machine: `make demo` and `make test`.
# TORCH_PIN keeps a CPU machine off the multi-GB CUDA build; override it on a GPU box, e.g.
#   make test TORCH_PIN="torch==2.13.0 torchvision==0.28.0 --index-url <your CUDA index>"
PYTHON ?= python3
VENV ?= .venv
TORCH_PIN ?= torch==2.13.0 torchvision==0.28.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.rt-installed

.PHONY: install demo test test-slow lint docs clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile examples/plugin-template/pyproject.toml benchmarks/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIN)
	$(BIN)/python -m pip install -q -e ".[test,ray,parquet,docs]"
	$(BIN)/python -m pip install -q -e examples/plugin-template
	$(BIN)/python -m pip install -q -e benchmarks
	touch $(STAMP)

demo: install
	$(BIN)/rt demo --out runs/demo

test: install
	$(BIN)/ruff check rt_core plugins theory tests examples benchmarks
	$(BIN)/mkdocs build --strict -d build/site-check  # not --quiet: with it, mkdocs 1.6 exits 0 on warnings
	$(BIN)/python -m pytest -m "not slow" -q --durations=15 tests examples/plugin-template/tests examples/monotone-check rt_core plugins

test-slow: install  # pytest exits 5 when nothing is marked slow: that is not a failure
	$(BIN)/python -m pytest -m slow -q tests; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

docs: install  # the documentation site (mkdocs.yml) into build/site; --strict fails on a broken link or page
	$(BIN)/mkdocs build --strict -d build/site

lint: install
	$(BIN)/ruff check rt_core plugins theory tests examples benchmarks

clean:
	rm -rf $(VENV) runs build *.egg-info
