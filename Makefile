# Two entry points for a newcomer on a fresh machine (see README.md):
#   make demo   set up, compile the bundled digits CNN to C, build it into a host program,
#               run it on the held-out digits and print its predictions and accuracy
#   make test   set up (Python packages in .venv) and run the whole test suite
#   (make test-fast leaves out the slow tier: QEMU, conformance, wheel, fuzz, browser)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BUILD  := build

.PHONY: demo test test-fast setup setup-test lint bench conformance clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

demo: setup
	mkdir -p $(BUILD)
	$(VENV)/bin/tinyc examples/models/digits_cnn.onnx -o $(BUILD)/digits --name model
	$(PY) -c "import numpy as np; np.load('examples/models/digits_test_x.npy').astype('<f4').tofile('$(BUILD)/digits/images.f32'); np.load('examples/models/digits_test_y.npy').astype('<i8').tofile('$(BUILD)/digits/labels.i64')"
	cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -I $(BUILD)/digits $(BUILD)/digits/*.c examples/firmware/host/main.c -lm -o $(BUILD)/digits_demo
	$(BUILD)/digits_demo $(BUILD)/digits/images.f32 $(BUILD)/digits/labels.i64

test: setup-test
	$(PY) -m ruff check tinyc tests examples scripts
	$(PY) -m pytest -q -n 2 -p no:cacheprovider tests

# the quick loop: everything but the slow tier (QEMU, conformance, wheel, fuzz, browser)
test-fast: setup-test
	$(PY) -m ruff check tinyc tests examples scripts
	$(PY) -m pytest -q -n 2 -p no:cacheprovider -m "not slow" tests

bench: setup
	$(PY) examples/bench.py

conformance: setup-test
	$(PY) scripts/conformance.py --jobs 2

clean:
	rm -rf $(BUILD)
