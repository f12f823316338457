# nsnet: build · test · lint · demo · bench · man · install (see README.md)

set shell := ["bash", "-euo", "pipefail", "-c"]

tools := "nsrun vethup vethdown netinit natctl"

# what a fresh Debian machine lacks
deps:
    ./deps

build:
    cargo build --workspace

# every test (cargo builds the tools it tests); the privileged ones run in private labs, and the real host is checked unchanged afterwards
test: deps
    lab/bin/real-host-check cargo test --workspace

lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# the core scenario in a private lab, as a transcript a newcomer can follow
demo: deps build
    target/debug/labrun bash "$PWD/lab/demo.sh"

# the side-by-side benchmark in a private lab, on release binaries; rewrites bench/RESULTS.md (~5.5 min; RUNS=3 SCALE="1 5" for a ~30 s smoke run)
bench:
    ./deps bench
    cargo build --workspace --release
    target/release/labrun bash "$PWD/bench/bench.sh" > bench/RESULTS.md.new
    mv bench/RESULTS.md.new bench/RESULTS.md
    cat bench/RESULTS.md

# podman run --rm … true on an nsnet network beside a CNI bridge and netavark, in a private lab; rewrites bench/cni.md (RUNS=20 by default)
bench-cni:
    ./deps bench
    cargo build --workspace --release
    target/release/labrun bash "$PWD/bench/cni.sh"

# lint the man pages (a test keeps them in step with --help)
man:
    mandoc -Tlint -W warning man/*.1 man/*.7

# binaries, man pages and bash/zsh completions under PREFIX (`just install PREFIX=/usr/local` or `just install /opt/nsnet`); the CNI plugin in PREFIX/lib/cni
install PREFIX="/usr/local":
    #!/usr/bin/env bash
    set -euo pipefail
    prefix="{{PREFIX}}"
    prefix="${prefix#PREFIX=}"
    cargo build --release --workspace
    install -d "$prefix/bin" "$prefix/lib/cni" "$prefix/share/man/man1" "$prefix/share/man/man7" "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions"
    for t in {{tools}}; do
        install -m755 "target/release/$t" "$prefix/bin/$t"
        NSNET_COMPLETIONS=bash "target/release/$t" > "$prefix/share/bash-completion/completions/$t"
        NSNET_COMPLETIONS=zsh "target/release/$t" > "$prefix/share/zsh/site-functions/_$t"
    done
    install -m644 man/*.1 "$prefix/share/man/man1/"
    install -m755 target/release/nsnet "$prefix/lib/cni/nsnet"
    install -m644 man/*.7 "$prefix/share/man/man7/"
    echo "installed {{tools}} under $prefix, and the CNI plugin as $prefix/lib/cni/nsnet"
    echo "point the runtime at it: cni_plugin_dirs = [\"$prefix/lib/cni\", \"/usr/lib/cni\"] in containers.conf, or CNI_PATH=$prefix/lib/cni:/usr/lib/cni (see nsnet-cni(7))"
