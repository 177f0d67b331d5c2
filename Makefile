# The two commands a newcomer runs: `make demo` and `make test`.
# Both install what is missing first (scripts/install-deps), so they work
# on a fresh Debian 12 machine with Rust installed.

CARGO ?= cargo
DEMO_ARGS ?=

.PHONY: demo test soak fuzz deps build check fmt clippy clean

deps:
	scripts/install-deps

build: deps
	$(CARGO) build --release --locked --all-targets

# Runs the embedded demo room with synthetic participants until Ctrl-C;
# pass options with e.g. `make demo DEMO_ARGS="--participants 6 --duration 30"`.
demo: deps
	$(CARGO) run --release --locked -- demo $(DEMO_ARGS)

# Style gates, then every test. Integration tests start real WebRTC peers
# and pipelines; one at a time keeps them within the machine's 2 cores.
test: build check
	$(CARGO) test --release --locked --workspace --all-targets -- --test-threads=1

# The long tests (a minute and more each): destinations gone for 30 s,
# 200 joins and leaves, A/V sync after ten minutes. Marked #[ignore] so
# that `make test` stays short.
soak: build
	$(CARGO) test --release --locked --workspace --all-targets -- --ignored --test-threads=1

# Each libFuzzer target (fuzz/) for FUZZ_SECONDS, from the seeds the
# signalling tests hold. Stable Rust takes cargo-fuzz's nightly flags with
# RUSTC_BOOTSTRAP=1. CI runs the same targets over mutated seeds instead.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = room_protocol janus_protocol sdp

fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	CALLCAST_FUZZ_SEEDS=$(CURDIR)/fuzz/corpus $(CARGO) test --release -p callcast-signalling write_fuzz_seeds -- --ignored
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
