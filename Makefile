# The two commands: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN := docker-registry:docker-registry skopeo:skopeo wrk:wrk ab:apache2-utils \
          nginx:nginx-light redis-server:redis-server htpasswd:apache2-utils \
          containerd:containerd podman:podman dockerd:docker.io

.PHONY: test demo bench replicas lint typecheck unit integration deps venv clean

test: deps venv lint typecheck
	$(BIN)/pytest -q

demo: deps venv
	$(BIN)/python -m demo

bench: deps venv
	$(BIN)/python bench/run.py

# Three replicas sharing one Redis: a decision made by one is served warm by the others.
replicas: deps venv
	$(BIN)/python scripts/replicas.py

lint: venv
	$(BIN)/ruff check gatekeeper tests bench demo certs
	$(BIN)/ruff format --check gatekeeper tests bench demo certs

typecheck: venv
	$(BIN)/mypy --strict gatekeeper

unit: venv
	$(BIN)/pytest -q tests/unit

integration: deps venv
	$(BIN)/pytest -q tests/integration

deps:
	@bash scripts/ensure-debian-packages.sh $(DEBIAN)

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
