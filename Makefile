# evpnd — top-level commands. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECONDS ?= 10

.PHONY: help demo test test-unit test-fuzz test-vm lint fmt bench bench-migration bench-scale fuzz clean-netns deps build release

help:
	@echo "make demo    build in release and run the biggest real job (see README)"
	@echo "make test    install missing test dependencies, then run every test"
	@echo "make lint    rustfmt check + clippy -D warnings"
	@echo "make bench   benchmarks that print numbers and ratios"
	@echo "make bench-migration  VM live-migration convergence and loss, evpnd vs FRR leaves (~2 min)"
	@echo "make bench-scale  full pipeline at scale: 100k and 1M MACs into the kernel FDB, then moved, evpnd vs FRR (~6 min)"
	@echo "             (EVPND_SCALE_SIZES=10000,100000 for a quick run)"
	@echo "make fuzz    longer fuzzing runs (300 s per target)"
	@echo "make clean-netns  remove leftover evpnd test namespaces"

deps:
	@scripts/install-test-deps.sh

build:
	$(CARGO) build --workspace --all-targets

release:
	$(CARGO) build --release --workspace

test: deps lint test-unit test-fuzz test-vm

# EVPND_REQUIRE_DEPS: tests that would skip without a tool `deps` installs
# (tshark) fail instead.
# EVPND_SKIP_LOG: every test that skipped a part (a kernel feature missing
# here; the VM lane runs those) appends a line; listed after the run, since
# cargo hides what a passing test printed.
test-unit:
	@mkdir -p target && rm -f target/skipped.log
	@EVPND_REQUIRE_DEPS=1 EVPND_SKIP_LOG=$(CURDIR)/target/skipped.log $(CARGO) test --workspace --no-fail-fast; rc=$$?; \
	  echo "== skipped here (missing kernel features run in the VM lane, make test-vm):"; \
	  if [ -s target/skipped.log ]; then sort target/skipped.log | sed 's/^/   SKIPPED: /'; else echo "   nothing"; fi; \
	  exit $$rc

test-fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

test-vm:
	@scripts/vm-tests.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

bench:
	$(CARGO) bench --workspace --exclude integration
	$(CARGO) bench -p integration --bench bgp_inject
	$(CARGO) bench -p integration --bench migration

bench-scale:
	$(CARGO) bench -p integration --bench scale

# Also part of `make bench`; about 2 min.
# EVPND_BENCH_MOVES=5 for a quick run, EVPND_BENCH_ONLY=evpnd|frr.
bench-migration:
	$(CARGO) bench -p integration --bench migration

fuzz:
	@scripts/fuzz.sh 300

demo:
	@scripts/demo.sh $(ARGS)

clean-netns:
	@for ns in $$(ip netns list | awk '{print $$1}' | grep -E '^evt'); do ip netns del $$ns; done; true
