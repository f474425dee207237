# The map of everyday commands. `make` or `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Rasa and TensorFlow are chatty and phone home for telemetry; keep them quiet and offline.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup train seed run run-prod test test-fast model nlu-report reload bench bench-voice check-data lint format try clean

help: ## Show this list of commands
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Install system packages, Python 3.10 venv and the project (idempotent)
	@bash scripts/bootstrap.sh

train: setup ## Train the Rasa model, only when bot/ or data/ changed
	@$(PY) -m scripts.train

seed: setup ## Load the demo citizens and service halls into an empty exchange database
	@$(PY) -m exchange seed data/demo/citizens.yml --if-empty

run: setup train seed ## Start the whole stack in the foreground; Ctrl-C stops all of it
	@$(PY) -m scripts.run

run-prod: setup train ## Production profile: PostgreSQL, Redis, 2 Rasa + 2 action servers behind proxies
	@$(PY) -m scripts.prod

test: setup check-data train ## Check the data, then run the whole test suite (pytest)
	@$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup ## Run the tests that need no trained model or full stack
	@$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

nlu-report: setup ## Measure the NLU into reports/nlu/, compared with the last run (~15 min)
	@$(PY) -m scripts.nlu_report

reload: setup ## Put the newest trained model into the running assistant, no restart
	@$(PY) -m scripts.reload

model: ## Download the Mandarin Vosk model (needs internet; checks its sha256)
	@bash scripts/get_model.sh

bench: setup train ## Measure latency, throughput, memory, training time and the NLU baseline (reports/bench/, ~40 min)
	@$(PY) -m bench.run

bench-voice: setup ## Measure speech recognition, synthesis and voice latency (reports/bench/voice.md)
	@$(PY) -m bench.voice

check-data: setup ## Check training data and replies: rasa data validate + plain-words lint
	@$(PY) -m scripts.validate_data
	@$(PY) -m scripts.check_data

try: setup ## Try one sentence: make try TEXT="我想查养老金" (intent, details, next step)
	@$(PY) -m scripts.try_text "$(TEXT)"

lint: setup ## Check code style with ruff
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup ## Format the code with ruff
	@$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean: ## Remove generated files (models, databases, reports), keep .venv
	rm -rf models var reports .pytest_cache
