//! The lab: every privileged test runs in a private sandbox of its own, so
//! tests run in parallel and nothing on the real machine changes.
//!
//! - **host**: a fresh network and mount namespace with its own tmpfs on
//!   /run (so /run/netns is private), loopback up, and the standard iptables
//!   tables present. The tools under test run here as on a real host.
//! - **internet**: a namespace joined to host by a veth (host `up0`
//!   198.51.100.2/24 and 2001:db8:100::2/64, internet `wan0` .1 / ::1), the
//!   host's default routes pointing there. On its loopback it serves
//!   203.0.113.10 / 2001:db8:203::10 (port 7, TCP and UDP: answers with the
//!   client's source address) and 203.0.113.53 (dnsmasq:
//!   `example.test → 203.0.113.10`). It has no route back to any container
//!   subnet, so only masqueraded traffic gets answers.
//! - **processes**: everything in the lab (its own services, what tests
//!   start) runs in a PID namespace of the lab's own, whose init
//!   (catatonit) reaps orphans. PIDs a test sees or hands to a lab command
//!   are the lab's ([`Bg::pid`], [`Lab::proc`]); the residue check lists
//!   every process left, in any PID namespace inside; dropping the lab
//!   kills its init, and the kernel every process with it.
//!
//! Nothing here sends a packet outside these namespaces.

mod door;
mod lab;
mod snapshot;

pub use lab::{Bg, Lab, Out};
pub use snapshot::Snapshot;

use std::path::PathBuf;

/// The service's address and port in the lab's internet.
pub const SERVICE: &str = "203.0.113.10:7";
pub const SERVICE6: &str = "[2001:db8:203::10]:7";
pub const DNS: &str = "203.0.113.53";
/// The host's uplink address: what the service sees after masquerade.
pub const UPLINK: &str = "198.51.100.2";
pub const UPLINK6: &str = "2001:db8:100::2";

/// The folder with the tools' binaries: the one holding the running
/// executable (`target/debug`, above `deps/` for a test). `cargo test` builds
/// the tools into it before it runs their integration tests, so they are
/// never stale there.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let mut dir = exe
        .parent()
        .expect("the test binary's folder")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The path of a tool's binary in [`bin_dir`].
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built (run the tests with `cargo test`, which builds it)",
        path.display()
    );
    path
}

/// Every tool of the workspace: each binary in `tools/src/bin`, so a test
/// that goes through them all covers a new tool too.
pub fn tools() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/src/bin");
    let mut tools: Vec<String> = std::fs::read_dir(dir)
        .expect("tools/src/bin")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    tools.sort();
    tools
}

/// The lab's own scripts (`labsvc`), first on the lab's PATH.
pub fn script_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/bin"))
}

/// What to do with a test that needs root.
#[derive(Debug, PartialEq, Eq)]
pub enum Privilege {
    Run,
    Skip,
    Fail,
}

/// The skip rule: root runs the test; otherwise it is skipped visibly, or
/// fails when `NSNET_REQUIRE_PRIVILEGED=1` so CI can never pass by skipping.
pub fn privilege(is_root: bool, required: bool) -> Privilege {
    match (is_root, required) {
        (true, _) => Privilege::Run,
        (false, false) => Privilege::Skip,
        (false, true) => Privilege::Fail,
    }
}

/// Applies the skip rule for `test`: true when it may run.
pub fn privileged(test: &str) -> bool {
    let required = std::env::var("NSNET_REQUIRE_PRIVILEGED").is_ok_and(|v| v == "1");
    match privilege(nix::unistd::geteuid().is_root(), required) {
        Privilege::Run => true,
        Privilege::Skip => {
            // Straight to the stream, not eprintln!: the test harness
            // captures the macros' output of passing tests, and a skip must
            // be seen.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIP {test} (needs root)");
            false
        }
        Privilege::Fail => {
            panic!("{test} needs root, and NSNET_REQUIRE_PRIVILEGED=1 forbids skipping it")
        }
    }
}

/// A fresh lab for the calling test, or `return` (after the SKIP line)
/// when the test may not run: `let lab = lab!();`.
#[macro_export]
macro_rules! lab {
    () => {{
        fn here() {}
        let name = ::std::any::type_name_of_val(&here);
        let name = name.strip_suffix("::here").unwrap_or(name);
        match $crate::Lab::new(name) {
            Some(lab) => lab,
            None => return,
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_rule() {
        assert_eq!(privilege(true, false), Privilege::Run);
        assert_eq!(privilege(true, true), Privilege::Run);
        assert_eq!(privilege(false, false), Privilege::Skip);
        assert_eq!(privilege(false, true), Privilege::Fail);
    }
}
