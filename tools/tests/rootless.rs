//! nsnet without root: `nsrun --user --map-root --net` with pasta (Debian's
//! `passt`) as its hook gives a container the internet, as the README and
//! nsrun(1) show it, run by an unprivileged user in the lab.

use nsnet_lab::{lab, SERVICE, UPLINK};

/// The hook and the on-exit hook of the composition, word for word as the
/// README and nsrun(1) give them. pasta forks into the background once the
/// container's interface is configured, so the hook returns when the
/// network is there; it does not end by itself when the container does,
/// hence the on-exit hook.
const HOOK: &str =
    r#"pasta --config-net --quiet --pid "$XDG_RUNTIME_DIR/pasta.$NSRUN_PID" $NSRUN_PID"#;
const ON_EXIT: &str =
    r#"kill "$(cat "$XDG_RUNTIME_DIR/pasta.$NSRUN_PID")"; rm "$XDG_RUNTIME_DIR/pasta.$NSRUN_PID""#;

/// What the unprivileged user runs: the container asks the lab's internet
/// service who it is and resolves a name through the lab's DNS; then, once
/// nsrun is back, no pasta may still run (one SIGTERMed may take a moment
/// to end; a zombie is this PID namespace's to reap).
const SCRIPT: &str = r#"
id -u
nsrun --user --map-root --net --hook "$HOOK" --on-exit "$ON_EXIT" \
    -- sh -c 'id -u; labsvc ask tcp "$SERVICE"; getent hosts example.test'
echo "nsrun=$?"
running() { ps -eo stat=,comm= | grep -v '^Z' | grep pas; }
for _ in $(seq 200); do running >/dev/null || break; sleep 0.05; done
echo "left: $(running)"
ls -A "$XDG_RUNTIME_DIR"
"#;

#[test]
fn an_unprivileged_user_gives_a_container_the_internet_with_pasta() {
    let lab = lab!();
    assert!(
        lab.sh("command -v pasta").ok(),
        "the test needs pasta: run ./deps (package passt)"
    );
    lab.open_tun_to_everyone();
    lab.resolve_through_lab_dns();
    lab.sh_ok("mkdir -m 700 /run/nobody && chown 65534:65534 /run/nobody");
    let before = lab.snapshot();
    // The unprivileged user runs in a PID namespace of the test's own, whose
    // first process reaps what pasta leaves when it ends: this machine's
    // PID 1 reaps no orphan, and pasta's parent is gone once it forked.
    let mut cmd = lab.command(&[
        "unshare",
        "--pid",
        "--fork",
        "--mount-proc",
        "setpriv",
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--inh-caps=-all",
        "sh",
        "-c",
        SCRIPT,
    ]);
    cmd.env("HOOK", HOOK)
        .env("ON_EXIT", ON_EXIT)
        .env("SERVICE", SERVICE)
        .env("XDG_RUNTIME_DIR", "/run/nobody");
    let out = lab.output(cmd).expect_ok("the rootless composition");
    assert_eq!(
        out.stdout,
        format!("65534\n0\n{UPLINK}\n203.0.113.10    example.test\nnsrun=0\nleft: \n"),
        "stderr: {}",
        out.stderr
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    lab.sh_ok("rmdir /run/nobody");
    lab.assert_settles(&before);
}
