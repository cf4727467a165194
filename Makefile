# The two commands: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN := docker-registry:docker-registry skopeo:skopeo wrk:wrk ab:apache2-utils \
          nginx:nginx-light redis-server:redis-server htpasswd:apache2-utils \
          containerd:containerd podman:podman dockerd:docker.io

FLOORS := .venv-floors
PLATFORM := --python-version 3.11 --python-platform x86_64-unknown-linux-gnu

.PHONY: test demo bench replicas lint typecheck unit integration deps venv clean lock test-floors image

test: deps venv lint typecheck
	$(BIN)/pytest -q

demo: deps venv
	KEEP=$(KEEP) $(BIN)/python -m demo

# Builds the container image here and runs it hardened (scripts/build_image.py; ~5 minutes).
image: venv
	@bash scripts/ensure-debian-packages.sh mmdebstrap:mmdebstrap dockerd:docker.io \
	  docker-registry:docker-registry
	$(BIN)/python scripts/build_image.py

# The unit tests with every runtime dependency at the floor pyproject.toml allows.
test-floors: venv
	rm -rf $(FLOORS)
	$(BIN)/uv venv -q --python $(PYTHON) $(FLOORS)
	$(BIN)/python scripts/floors.py > $(FLOORS)/floors.txt
	$(BIN)/uv pip install -q --python $(FLOORS)/bin/python -c $(FLOORS)/floors.txt -e '.[dev]'
	$(BIN)/uv pip list --python $(FLOORS)/bin/python | grep -iFf <(sed 's/==.*//' $(FLOORS)/floors.txt)
	$(FLOORS)/bin/pytest -q -p no:cacheprovider tests/unit

# Exact versions with hashes: requirements/dev.txt for `make test` and CI, runtime.txt for the image.
lock: venv
	$(BIN)/uv pip compile -q pyproject.toml --extra redis --generate-hashes $(PLATFORM) \
	  --custom-compile-command "make lock" -o requirements/runtime.txt
	$(BIN)/uv pip compile -q pyproject.toml --extra redis --extra dev --generate-hashes $(PLATFORM) \
	  --custom-compile-command "make lock" -o requirements/dev.txt

bench: deps venv
	$(BIN)/python bench/run.py

# Three replicas sharing one Redis: a decision made by one is served warm by the others.
replicas: deps venv
	$(BIN)/python scripts/replicas.py

lint: venv
	$(BIN)/ruff check gatekeeper tests bench demo certs scripts
	$(BIN)/ruff format --check gatekeeper tests bench demo certs scripts

typecheck: venv
	$(BIN)/mypy --strict gatekeeper

unit: venv
	$(BIN)/pytest -q tests/unit

integration: deps venv
	$(BIN)/pytest -q tests/integration

deps:
	@bash scripts/ensure-debian-packages.sh $(DEBIAN)

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/dev.txt
	@# Debian ships venv's pip bootstrap (ensurepip) in python3-venv.
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  bash scripts/ensure-debian-packages.sh ensurepip-missing:python3-venv
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

clean:
	rm -rf $(VENV) $(FLOORS) .mypy_cache .ruff_cache .pytest_cache *.egg-info
