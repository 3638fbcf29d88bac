# The two commands a newcomer needs are `make run` and `make test`; each prepares .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stamp files make the install step re-run only when the dependency pins change.
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check lock clean client

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

# torch goes in first, by pip: pip's configured find-links may hold the CPU build (torch+cpu),
# which uv does not look at, and PyPI's Linux torch is the CUDA build. `--no-index` keeps this
# first try off every index; without a local wheel, PyTorch's CPU index is the fallback. uv then
# keeps it, as 2.13.0+cpu satisfies the lock's torch==2.13.0 (whose CUDA deps are excluded).
TORCH_PIN = $(shell grep -m1 -o '^torch==[^ ]*' requirements.lock)
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

$(STAMP): $(BIN)/uv requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-index "$(TORCH_PIN)" \
		|| $(BIN)/pip install --quiet --disable-pip-version-check --no-deps \
			--index-url $(TORCH_CPU_INDEX) "$(TORCH_PIN)"
	$(BIN)/uv pip sync --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/studypilot run

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# The published contract: the OpenAPI document, then the TypeScript client generated from it and
# type-checked. Both are committed; tests/api/test_published_contract.py fails when either is stale.
CLIENT_DIR := clients/typescript
client: $(STAMP)
	$(BIN)/studypilot openapi --output openapi/openapi.json
	cd $(CLIENT_DIR) && npm ci --no-audit --no-fund --loglevel=error
	cd $(CLIENT_DIR) && rm -rf src/generated && npm run --silent generate && npm run --silent typecheck

# Re-resolve the pinned dependency set after editing pyproject.toml.
lock: $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --extra dev --extra local-embeddings \
		--extra voice-local --extra voice-piper --extra local-llm -p 3.11 \
		-o requirements.lock
	@! grep -iE '^(nvidia|cuda|triton)' requirements.lock \
		|| { echo "CUDA packages in requirements.lock: extend [tool.uv] exclude-dependencies"; exit 1; }

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
