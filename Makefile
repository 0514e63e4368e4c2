# The two commands of the README: `make up` and `make test`.
SUITE ?= identity
PORT ?= 5000
DATA_DIR ?= .kumo

.PHONY: up setup test unit interop bench clean

up: ## install Kumo and start the cloud (embedded SQLite under $(DATA_DIR))
	@scripts/setup.sh run
	@.venv/bin/kumo serve --port $(PORT) --data-dir $(DATA_DIR)

setup:
	@scripts/setup.sh test

test: setup ## install what the tests need, run them, then the interop slices CI runs
	.venv/bin/python -m pytest -n 2 --dist loadfile
	$(MAKE) interop SUITE=all
	$(MAKE) interop SUITE=trunk-sfc

unit: setup
	.venv/bin/python -m pytest -n 2 --dist loadfile

interop: setup ## run a slice of the Tempest target lists: SUITE=identity|compute|image|network|volume|all|trunk-sfc
	.venv/bin/python -m interop.run $(SUITE)

bench: setup ## print the benchmark figures (see docs/benchmarks.md)
	.venv/bin/python bench/identity.py
	.venv/bin/python bench/compute.py
	.venv/bin/python bench/network.py
	.venv/bin/python bench/trunk.py
	.venv/bin/python bench/sfc.py

clean:
	rm -rf .interop build *.egg-info
