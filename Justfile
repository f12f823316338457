# nsnet: build · test · lint · demo · bench · man · install (see README.md)

set shell := ["bash", "-euo", "pipefail", "-c"]

# every binary in tools/src/bin is a tool
tools := `ls tools/src/bin | sed -n 's/\.rs$//p' | xargs`

# what a fresh Debian machine lacks
deps:
    ./deps

build:
    cargo build --workspace

# the release binaries `just install` ships and `just bench` measures, linked statically (glibc's static-pie): with no dynamic loader to run, each tool starts sooner, and a container's setup starts several
build-release:
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --workspace --target host-tuple

release := "target/" + `rustc --print host-tuple` + "/release"

# every test (cargo builds the tools it tests); the privileged ones run in private labs, and the real host is checked unchanged afterwards
test: deps
    lab/bin/real-host-check cargo test --workspace

lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps --quiet

# the core scenario in a private lab, as a transcript a newcomer can follow
demo: deps build
    target/debug/labrun bash "$PWD/lab/demo.sh"

# the side-by-side benchmark of issue 12's targets in a private lab, on release binaries; rewrites bench/RESULTS.md, fails if a row cannot run (~8 min; RUNS=3 SCALE=20 BACK=5 for a ~1 min smoke run)
bench: build-release
    ./deps bench
    NSNET_NEIGH_MAX=$(cat /proc/sys/net/ipv4/neigh/default/gc_thresh3) {{release}}/labrun bash "$PWD/bench/bench.sh" > bench/RESULTS.md.new || { rm -f bench/RESULTS.md.new; exit 1; }
    mv bench/RESULTS.md.new bench/RESULTS.md
    cat bench/RESULTS.md

# podman run --rm … true on an nsnet network beside a CNI bridge and netavark, in a private lab; rewrites bench/cni.md (RUNS=20 by default)
bench-cni: build-release
    ./deps bench
    {{release}}/labrun bash "$PWD/bench/cni.sh"

# write man/TOOL.1 for every tool from man/src/TOOL.1 and its command line (`TOOL --generate man`), then lint them
man:
    cargo build -p nsnet-tools
    for t in {{tools}}; do target/debug/$t --generate man > man/$t.1; done
    mandoc -Tlint -W warning man/*.1

# binaries, man pages and bash/zsh/fish completions under PREFIX (`just install PREFIX=/usr/local` or `just install /opt/nsnet`); the CNI plugin nsnet in PREFIX/lib/cni, where runtimes look for plugins
install PREFIX="/usr/local": build-release
    #!/usr/bin/env bash
    set -euo pipefail
    prefix="{{PREFIX}}"
    prefix="${prefix#PREFIX=}"
    release="{{release}}"
    bash="$prefix/share/bash-completion/completions"
    zsh="$prefix/share/zsh/site-functions"
    fish="$prefix/share/fish/vendor_completions.d"
    install -d "$prefix/bin" "$prefix/lib/cni" "$prefix/share/man/man1" "$bash" "$zsh" "$fish"
    for t in {{tools}}; do
        "$release/$t" --generate man > "$prefix/share/man/man1/$t.1"
        # The CNI plugin goes where runtimes look for plugins, not on PATH.
        if [ "$t" = nsnet ]; then
            install -m755 "$release/nsnet" "$prefix/lib/cni/nsnet"
            continue
        fi
        install -m755 "$release/$t" "$prefix/bin/$t"
        "$release/$t" --generate complete-bash > "$bash/$t"
        "$release/$t" --generate complete-zsh > "$zsh/_$t"
        "$release/$t" --generate complete-fish > "$fish/$t.fish"
    done
    echo "installed {{tools}} under $prefix, the CNI plugin as $prefix/lib/cni/nsnet"
    echo "point the runtime at it: cni_plugin_dirs = [\"$prefix/lib/cni\", \"/usr/lib/cni\"] in containers.conf, or CNI_PATH=$prefix/lib/cni:/usr/lib/cni (see nsnet(1))"
