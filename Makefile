# Two commands do all set-up: `make demo` (main job, end to end) and `make test` (the suite). Both build .venv once.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint ui clean-venv

# A new environment takes about 7 GiB (torch's build for torchvision, pinned in constraints.txt, brings CUDA
# libraries; docs/STACK.md): refuse before the install starts instead of failing half-way with "No space left on device".
INSTALL_GIB ?= 8

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) tools/check_free_disk.py --gib $(INSTALL_GIB) --for "a new $(VENV)" $(dir $(VENV)).
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m orchestration.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .

ui: $(STAMP)
	$(BIN)/python -m orchestration.ui

clean-venv:
	rm -rf $(VENV)
