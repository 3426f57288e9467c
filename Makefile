# FireFighter — developer entry points. `make run` and `make test` work on a fresh clone with only Rust
# (and a C compiler) installed: SQLite and libpq are built from bundled sources.

CARGO ?= cargo

.PHONY: run test lint fmt ci bench-startup build openapi worker example-test example-lint example-lock vendor

## Run the server in the embedded mode (SQLite under ./data, http://127.0.0.1:8000).
run:
	$(CARGO) run --release --locked --bin firefighter-server -- serve

## Run the whole test suite. PostgreSQL, RabbitMQ and Redis variants run when FF_TEST_DATABASE_URL,
## FF_TEST_AMQP_URL and FF_TEST_REDIS_URL are set (.ci/run sets them).
test:
	$(CARGO) test --workspace --locked
	$(MAKE) example-test

## The private deployment example (docs/extending.md): its own workspace, which uses this one by
## path as a git submodule would; built in this workspace's target directory, so the shared crates
## are not compiled twice.
EXAMPLE = cd examples/private-deployment && CARGO_TARGET_DIR=$(CURDIR)/target $(CARGO)
example-test:
	$(EXAMPLE) test --locked

example-lint:
	$(EXAMPLE) fmt --all --check
	$(EXAMPLE) clippy --all-targets --locked -- -D warnings

## After a change to Cargo.lock: the example's lock file follows it.
example-lock:
	cp Cargo.lock examples/private-deployment/Cargo.lock
	cd examples/private-deployment && $(CARGO) metadata --format-version 1 >/dev/null

## Formatting check and clippy with warnings as errors.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(MAKE) example-lint

fmt:
	$(CARGO) fmt --all

## What CI runs: start the local services if needed, lint, then the tests against PostgreSQL.
ci:
	bash .ci/run

## Regenerate openapi/openapi.json from the code (a test fails while the two disagree).
## Refresh the dashboard's vendored front-end assets (htmx, Pico) from the npm registry.
vendor:
	bash crates/dashboard/vendor.sh

openapi:
	mkdir -p openapi
	$(CARGO) run --locked --quiet --bin firefighter-server -- openapi > openapi/openapi.json.tmp
	mv openapi/openapi.json.tmp openapi/openapi.json

## Release builds of both binaries: firefighter-server and firefighter-worker (scaled mode).
build:
	$(CARGO) build --release --locked --bin firefighter-server --bin firefighter-worker

## The worker of the scaled mode (needs AMQP_URL and DATABASE_URL; see docs/operations.md).
worker:
	$(CARGO) run --release --locked --bin firefighter-worker

## Start-up time of a release build, from exec to a healthy answer (see docs/benchmarks.md).
bench-startup: build
	bash bench/startup.sh
