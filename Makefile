# voxagent: `make run` (the agent, live) and `make test` (the whole test suite).
# `make install-user` links .venv/bin/voxagent into ~/.local/bin, so a bare `voxagent` works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
USER_BIN ?= $(HOME)/.local/bin

.PHONY: install install-test install-user run test lint fixtures bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

install-test: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $@

# A link, not a copy: it runs this checkout's .venv (editable), so it follows `git pull`
# and `make install`, and removing it (rm ~/.local/bin/voxagent) undoes this target.
install-user: install
	@mkdir -p "$(USER_BIN)"
	@if [ -e "$(USER_BIN)/voxagent" ] && [ ! -L "$(USER_BIN)/voxagent" ]; then \
		echo "make: $(USER_BIN)/voxagent exists and is not a link; move it away first" >&2; \
		exit 1; fi
	ln -sfn "$(abspath $(BIN))/voxagent" "$(USER_BIN)/voxagent"
	@case ":$$PATH:" in *":$(USER_BIN):"*) ;; \
		*) echo "make: $(USER_BIN) is not on PATH; add it (e.g. in ~/.profile)";; esac

run: install
	$(BIN)/voxagent run

test: install-test
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check .

fixtures:
	$(BIN)/python tests/fixtures/make_fixtures.py --committed

bench: install
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/latency.py

clean:
	rm -rf $(VENV) build dist *.egg-info
