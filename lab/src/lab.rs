//! The lab's namespaces, the processes that hold them, and the helpers that
//! run commands inside them.

use crate::snapshot::Snapshot;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

/// What a finished command left.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The exit code, or 128+N when killed by signal N (as a shell says).
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// Panics with everything the command said unless it succeeded.
    pub fn expect_ok(self, what: &str) -> Self {
        assert!(
            self.ok(),
            "{what} failed with status {}\nstdout: {}\nstderr: {}",
            self.code(),
            self.stdout,
            self.stderr
        );
        self
    }
}

fn collect(mut cmd: Command, stdin: Option<&[u8]>) -> Out {
    use std::io::Write;
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let out = child.wait_with_output().expect("waiting for a command");
    Out {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A process the test started in the lab; SIGKILLed and reaped on drop.
#[derive(Debug)]
pub struct Bg {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Bg {
    fn start(mut cmd: Command) -> Bg {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().map(BufReader::new);
        Bg { child, stdout }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The next line the process prints (without its newline).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .as_mut()
            .expect("stdout was taken")
            .read_line(&mut line)
            .expect("reading a line from a lab process");
        line.trim_end_matches('\n').to_string()
    }

    /// Everything the process still prints, until it closes stdout.
    pub fn rest(&mut self) -> String {
        let mut text = String::new();
        if let Some(out) = self.stdout.as_mut() {
            out.read_to_string(&mut text).expect("reading stdout");
        }
        text
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal)
            .expect("signalling a lab process");
    }

    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("waiting for a lab process")
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("polling a lab process")
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One private sandbox: a host namespace, an internet namespace and the
/// services there. Everything is killed and removed on drop, even when the
/// test panics.
#[derive(Debug)]
pub struct Lab {
    name: String,
    host: Bg,
    internet: Bg,
    service: Bg,
    dns: Bg,
    path: String,
}

const HOST_SETUP: &str = r#"
set -e
mount -t tmpfs -o mode=0755,size=64m nsnet-lab /run
mkdir -p /run/netns
ip link set lo up
printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n' > /run/nsnet-lab-tables
iptables-restore < /run/nsnet-lab-tables
ip6tables-restore < /run/nsnet-lab-tables
rm /run/nsnet-lab-tables
echo ready
exec sleep infinity
"#;

const INTERNET_SETUP: &str = r#"
set -e
ip link set lo up
ip addr add 203.0.113.10/32 dev lo
ip addr add 203.0.113.53/32 dev lo
ip -6 addr add 2001:db8:203::10/128 dev lo
ip -6 addr add 2001:db8:203::53/128 dev lo
echo ready
exec sleep infinity
"#;

const UPLINK_SETUP: &str = r#"
set -e
ip link add up0 type veth peer name wan0 netns "$INTERNET"
# No duplicate-address detection on the uplink: its link-local address
# would turn from tentative to valid (and gain a route) mid-test and look
# like residue to a snapshot taken early.
echo 0 > /proc/sys/net/ipv6/conf/up0/accept_dad
ip addr add 198.51.100.2/24 dev up0
ip -6 addr add 2001:db8:100::2/64 dev up0 nodad
ip link set up0 up
ip route add default via 198.51.100.1
ip -6 route add default via 2001:db8:100::1
"#;

const WAN_SETUP: &str = r#"
set -e
ip addr add 198.51.100.1/24 dev wan0
ip -6 addr add 2001:db8:100::1/64 dev wan0 nodad
ip link set wan0 up
"#;

/// dnsmasq in the foreground, logging to stdout, so the lab reads its
/// "started" line instead of polling for readiness.
const DNS_COMMAND: &str = "exec dnsmasq --keep-in-foreground --log-facility=- \\
    --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \\
    --listen-address=203.0.113.53 --listen-address=2001:db8:203::53 \\
    --host-record=example.test,203.0.113.10 --user=root --group=root --pid-file= 2>&1";

fn holder(script: &str, flags: &[&str]) -> Bg {
    let mut cmd = Command::new("unshare");
    cmd.args(flags).args(["--", "sh", "-c", script]);
    cmd.stderr(Stdio::inherit());
    let mut bg = Bg::start(cmd);
    let line = bg.line();
    assert_eq!(line, "ready", "a lab namespace could not be set up");
    bg
}

fn ns_inode(pid: i32, ns: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{ns}"))
        .ok()
        .map(|m| m.ino())
}

impl Lab {
    /// Builds a lab for `test`, or prints `SKIP` and returns `None` when the
    /// test may not run (see [`crate::privileged`]). Use the `lab!()` macro.
    pub fn new(test: &str) -> Option<Lab> {
        if !crate::privileged(test) {
            return None;
        }
        for program in [
            "ip", "nft", "iptables", "unshare", "nsenter", "dnsmasq", "ping", "python3",
        ] {
            assert!(
                which_ok(program),
                "the lab needs {program}: run .ci/run or `just deps` to install it"
            );
        }
        let path = format!(
            "{}:{}:{}",
            crate::bin_dir().display(),
            crate::script_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        );
        let host = holder(
            HOST_SETUP,
            &["--net", "--mount", "--propagation", "private"],
        );
        let internet = holder(INTERNET_SETUP, &["--net"]);
        let partial = PartialLab {
            host: host.pid(),
            internet: internet.pid(),
            path: path.clone(),
        };
        partial
            .host_cmd_out(
                &["sh", "-c", UPLINK_SETUP],
                &[("INTERNET", &internet.pid().to_string())],
            )
            .expect_ok("setting up the lab's uplink");
        partial
            .netns_cmd_out(internet.pid(), &["sh", "-c", WAN_SETUP])
            .expect_ok("setting up the lab's internet side");
        let mut service = Bg::start(partial.netns_command(
            internet.pid(),
            &["labsvc", "serve", crate::SERVICE, crate::SERVICE6],
        ));
        assert_eq!(service.line(), "ready", "the lab service did not start");
        let mut dns = Bg::start(partial.netns_command(internet.pid(), &["sh", "-c", DNS_COMMAND]));
        loop {
            let line = dns.line();
            assert!(!line.is_empty(), "the lab's DNS server did not start");
            if line.contains("started") {
                break;
            }
        }
        Some(Lab {
            name: test.to_string(),
            host,
            internet,
            service,
            dns,
            path,
        })
    }

    fn partial(&self) -> PartialLab {
        PartialLab {
            host: self.host.pid(),
            internet: self.internet.pid(),
            path: self.path.clone(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PID holding the host namespace (`/proc/PID/ns/net`).
    pub fn host_pid(&self) -> i32 {
        self.host.pid()
    }

    pub fn internet_pid(&self) -> i32 {
        self.internet.pid()
    }

    /// A command that runs in host (its network and mount namespace), with
    /// the workspace's binaries first on PATH.
    pub fn command<S: AsRef<OsStr>>(&self, argv: &[S]) -> Command {
        self.partial().netns_command(self.host.pid(), argv)
    }

    /// A command that runs in the network namespace of `pid`, with host's
    /// mounts.
    pub fn command_in<S: AsRef<OsStr>>(&self, pid: i32, argv: &[S]) -> Command {
        self.partial().netns_command(pid, argv)
    }

    /// Runs argv in host and waits.
    pub fn run<S: AsRef<OsStr>>(&self, argv: &[S]) -> Out {
        collect(self.command(argv), None)
    }

    /// Runs argv in host with `input` on stdin and waits.
    pub fn run_with_stdin<S: AsRef<OsStr>>(&self, argv: &[S], input: &str) -> Out {
        collect(self.command(argv), Some(input.as_bytes()))
    }

    /// Runs a shell script in host and waits.
    pub fn sh(&self, script: &str) -> Out {
        self.run(&["sh", "-c", script])
    }

    /// Runs a shell script in host; panics unless it succeeds; returns stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        self.sh(script).expect_ok(script).stdout
    }

    /// Runs a shell script in the lab's internet namespace.
    pub fn internet_sh(&self, script: &str) -> Out {
        self.sh_in(self.internet.pid(), script)
    }

    /// Runs a shell script in the network namespace of `pid`.
    pub fn sh_in(&self, pid: i32, script: &str) -> Out {
        collect(self.command_in(pid, &["sh", "-c", script]), None)
    }

    /// Runs any prepared command and waits.
    pub fn output(&self, cmd: Command) -> Out {
        collect(cmd, None)
    }

    /// Starts a shell script in host in the background; killed on drop.
    pub fn spawn(&self, script: &str) -> Bg {
        Bg::start(self.command(&["sh", "-c", script]))
    }

    /// Starts a prepared command in the background; killed on drop.
    pub fn spawn_command(&self, cmd: Command) -> Bg {
        Bg::start(cmd)
    }

    /// A process holding a new, empty network namespace inside host (the
    /// stand-in for a container); killed on drop.
    pub fn netns_holder(&self) -> Bg {
        let mut bg = self.spawn("exec unshare --net sh -c 'echo ready; exec sleep infinity'");
        assert_eq!(
            bg.line(),
            "ready",
            "a container namespace could not be made"
        );
        bg
    }

    /// The state of host that a test must leave as it found it.
    pub fn snapshot(&self) -> Snapshot {
        let text = self.sh_ok(crate::snapshot::SCRIPT);
        Snapshot::parse(&text, self.processes())
    }

    /// Fails the test, with a readable diff, when host differs from `before`.
    pub fn assert_unchanged(&self, before: &Snapshot) {
        let after = self.snapshot();
        let diff = before.diff(&after);
        assert!(
            diff.is_empty(),
            "{}: the host namespace was left changed:\n{diff}",
            self.name
        );
    }

    /// Like [`Lab::assert_unchanged`], but gives the kernel up to five
    /// seconds first: a network namespace whose last process exited is
    /// dismantled in the background (its veth pairs with it).
    pub fn assert_settles(&self, before: &Snapshot) {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(5) {
            if before.diff(&self.snapshot()).is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.assert_unchanged(before);
    }

    fn infrastructure(&self) -> HashSet<i32> {
        [
            self.host.pid(),
            self.internet.pid(),
            self.service.pid(),
            self.dns.pid(),
        ]
        .into_iter()
        .collect()
    }

    /// PIDs of processes in the lab, the lab's own infrastructure aside:
    /// those in host's mount namespace or in host's or internet's network
    /// namespace, and all their descendants.
    pub fn process_ids(&self) -> Vec<i32> {
        let mnt = ns_inode(self.host.pid(), "mnt");
        let nets = [
            ns_inode(self.host.pid(), "net"),
            ns_inode(self.internet.pid(), "net"),
        ];
        let infra = self.infrastructure();
        let mut table: Vec<(i32, i32)> = Vec::new();
        let mut found: HashSet<i32> = HashSet::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let after = s.rsplit_once(')')?.1.to_string();
                    after.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                .unwrap_or(0);
            table.push((pid, ppid));
            if infra.contains(&pid) {
                continue;
            }
            let in_mnt = mnt.is_some() && ns_inode(pid, "mnt") == mnt;
            let net = ns_inode(pid, "net");
            if in_mnt || (net.is_some() && nets.contains(&net)) {
                found.insert(pid);
            }
        }
        loop {
            let before = found.len();
            for (pid, ppid) in &table {
                if found.contains(ppid) && !infra.contains(pid) {
                    found.insert(*pid);
                }
            }
            if found.len() == before {
                break;
            }
        }
        let mut pids: Vec<i32> = found.into_iter().collect();
        pids.sort_unstable();
        pids
    }

    fn processes(&self) -> Vec<String> {
        let mut list: Vec<String> = self
            .process_ids()
            .into_iter()
            .filter_map(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let words: Vec<String> = cmdline
                    .split(|b| *b == 0)
                    .filter(|w| !w.is_empty())
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect();
                Some(format!("pid {pid}: {}", words.join(" ")))
            })
            .collect();
        list.sort();
        list
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        // Whatever the test started in the lab and left running goes first,
        // then the lab's own processes; the namespaces die with the last.
        for pid in self.process_ids() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// The parts of a lab needed to run commands in it, also while it is built.
struct PartialLab {
    host: i32,
    internet: i32,
    path: String,
}

impl PartialLab {
    fn netns_command<S: AsRef<OsStr>>(&self, netns_pid: i32, argv: &[S]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/proc/{netns_pid}/ns/net"))
            .arg(format!("--mount=/proc/{}/ns/mnt", self.host))
            .arg("--")
            .args(argv)
            .env("PATH", &self.path)
            .env("NSNET_LAB", "1")
            // A script run in the lab reaches this lab's internet (and no
            // other lab's) through /proc/$NSNET_LAB_INTERNET/ns/net.
            .env("NSNET_LAB_INTERNET", self.internet.to_string());
        cmd
    }

    fn netns_cmd_out<S: AsRef<OsStr>>(&self, netns_pid: i32, argv: &[S]) -> Out {
        collect(self.netns_command(netns_pid, argv), None)
    }

    fn host_cmd_out<S: AsRef<OsStr>>(&self, argv: &[S], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.netns_command(self.host, argv);
        for (k, v) in env {
            cmd.env(k, v);
        }
        collect(cmd, None)
    }
}

fn which_ok(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .chain(["/usr/sbin".into(), "/sbin".into()])
                .any(|dir| dir.join(program).is_file())
        })
        .unwrap_or(false)
}
