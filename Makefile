# The two commands of the README:
#   make demo   set up .venv if needed, train + evaluate the quickstart detector
#   make test   set up .venv if needed, run the quick test suite
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mmdet_losses-installed
PYTEST_ARGS ?=

.PHONY: env demo test test-all test-torchvision lint format clean-env

env: $(STAMP)

$(STAMP): tools/setup_env.sh setup.py requirements/*.txt
	tools/setup_env.sh
	touch $@

demo: $(STAMP)
	$(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)
	# the CUDA parity module on the CPU: its torch paths against the CPU
	# kernels, half precision and autocast (on a GPU: tools/gpu_check.sh)
	MMDET_LOSSES_TEST_DEVICE=cpu $(PY) -m pytest tests/cuda -q $(PYTEST_ARGS)

test-torchvision: $(STAMP)
	$(PY) -m pytest tests/torchvision_parity $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m flake8 mmdet_losses configs tools tests setup.py
	$(PY) -m isort --check-only --diff mmdet_losses configs tools tests setup.py
	$(PY) -m yapf --diff --recursive mmdet_losses configs tools tests setup.py

format: $(STAMP)
	$(PY) -m isort mmdet_losses configs tools tests setup.py
	$(PY) -m yapf --in-place --recursive mmdet_losses configs tools tests setup.py

clean-env:
	rm -rf $(VENV)
