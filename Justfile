# nsnet: build · test · lint · install (see README.md)

set shell := ["bash", "-euo", "pipefail", "-c"]

# what a fresh Debian machine lacks
deps:
    ./deps

build:
    cargo build --workspace

# every test; the privileged ones run in private labs, and the real host is checked unchanged afterwards
test: deps build
    tests/bin/real-host-check cargo test --workspace

lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# binaries and man pages under PREFIX
install PREFIX="/usr/local":
    cargo build --release --workspace
    install -d "{{PREFIX}}/bin" "{{PREFIX}}/share/man/man1"
    for t in nsrun vethup vethdown netinit natctl; do install -m755 "target/release/$t" "{{PREFIX}}/bin/$t"; done
    install -m644 man/*.1 "{{PREFIX}}/share/man/man1/"
