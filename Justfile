# nsnet: build · test · lint · demo · bench · man · install (see README.md)

set shell := ["bash", "-euo", "pipefail", "-c"]

# every binary in tools/src/bin is a tool
tools := `ls tools/src/bin | sed -n 's/\.rs$//p' | xargs`

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

# write man/TOOL.1 for every tool from man/src/TOOL.1 and its command line (`TOOL --generate man`), then lint them
man:
    cargo build -p nsnet-tools
    for t in {{tools}}; do target/debug/$t --generate man > man/$t.1; done
    mandoc -Tlint -W warning man/*.1

# binaries, man pages and bash/zsh/fish completions under PREFIX (`just install PREFIX=/usr/local` or `just install /opt/nsnet`)
install PREFIX="/usr/local":
    #!/usr/bin/env bash
    set -euo pipefail
    prefix="{{PREFIX}}"
    prefix="${prefix#PREFIX=}"
    cargo build --release --workspace
    bash="$prefix/share/bash-completion/completions"
    zsh="$prefix/share/zsh/site-functions"
    fish="$prefix/share/fish/vendor_completions.d"
    install -d "$prefix/bin" "$prefix/share/man/man1" "$bash" "$zsh" "$fish"
    for t in {{tools}}; do
        install -m755 "target/release/$t" "$prefix/bin/$t"
        "target/release/$t" --generate man > "$prefix/share/man/man1/$t.1"
        "target/release/$t" --generate complete-bash > "$bash/$t"
        "target/release/$t" --generate complete-zsh > "$zsh/_$t"
        "target/release/$t" --generate complete-fish > "$fish/$t.fish"
    done
    echo "installed {{tools}} under $prefix"
