//! The lab's namespaces, the processes that hold them, and the helpers that
//! run commands inside them (through [`crate::door`]).

use crate::door::PidFd;
use crate::snapshot::Snapshot;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};

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
///
/// The test's own child is a stand-in outside the lab's PID namespace (the
/// door's keeper, or `unshare`); the process that matters is that child's
/// child, inside. [`Bg::pid`] is its PID as the lab sees it, the PID every
/// lab command understands, and signals go to it, never to another process
/// that may reuse its number.
#[derive(Debug)]
pub struct Bg {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    inner: OnceLock<Inner>,
}

/// The process inside: how to signal it, and its PID in the lab.
#[derive(Debug)]
struct Inner {
    pidfd: PidFd,
    lab_pid: i32,
}

impl Bg {
    fn start(mut cmd: Command) -> Bg {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().map(BufReader::new);
        let bg = Bg {
            child,
            stdout,
            inner: OnceLock::new(),
        };
        // The door's command has exec'd when spawn() returns: found now,
        // before it can end. (unshare's child comes later; found on use.)
        let _ = bg.inner();
        bg
    }

    /// The process inside, once it exists.
    fn inner(&self) -> Option<&Inner> {
        if let Some(inner) = self.inner.get() {
            return Some(inner);
        }
        let outer = self.child.id() as i32;
        let child: i32 = std::fs::read_to_string(format!("/proc/{outer}/task/{outer}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let pidfd = PidFd::open(child)?;
        let lab_pid = lab_pid_of(child)?;
        Some(self.inner.get_or_init(|| Inner { pidfd, lab_pid }))
    }

    /// Its PID as the lab sees it (`$NSRUN_PID`, `/proc/PID` in the lab).
    pub fn pid(&self) -> i32 {
        self.inner()
            .unwrap_or_else(|| {
                panic!(
                    "the lab process behind {} has ended before its PID was asked for",
                    self.child.id()
                )
            })
            .lab_pid
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

    /// Sends `signal` to the process; one that has ended is no error.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        match self.inner() {
            Some(inner) => inner.pidfd.signal(signal),
            // Ended before it was found: only its stand-in is left, our
            // child, whose PID stays ours until we reap it.
            None => {
                let stand_in = nix::unistd::Pid::from_raw(self.child.id() as i32);
                let _ = nix::sys::signal::kill(stand_in, signal);
            }
        }
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
            // The process inside dies with its stand-in (the keeper's
            // death signal, or unshare's --kill-child).
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The PID namespace level of this process: where a lab PID sits in the
/// NSpid list of a process inside (ours is one level up from the lab's).
fn own_level() -> usize {
    nspids("self").map_or(1, |pids| pids.len())
}

/// The PIDs of a process in each PID namespace, outermost first.
fn nspids(pid: &str) -> Option<Vec<i32>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace()
        .skip(1)
        .map(|w| w.parse().ok())
        .collect()
}

/// The PID the lab gives the process `pid` of ours.
fn lab_pid_of(pid: i32) -> Option<i32> {
    nspids(&pid.to_string())?.get(own_level()).copied()
}

/// One private sandbox: a host namespace, an internet namespace and the
/// services there, all in a PID namespace of the lab's own. Everything is
/// killed and removed on drop, even when the test panics.
#[derive(Debug)]
pub struct Lab {
    name: String,
    /// The lab's PID 1 (catatonit, in host's network and mount
    /// namespaces) as this process sees it: the way into the lab's /proc.
    init_pid: i32,
    /// The same process, to end the lab with.
    init: PidFd,
    /// The lab PIDs of its own processes, which are no residue.
    infrastructure: HashSet<i32>,
    /// `unshare`, the init's parent: waited for when the lab goes.
    unshare: Bg,
    internet: Bg,
    /// The service and the DNS server: held so they are reaped.
    _held: [Bg; 2],
    doors: Doors,
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

/// The lab's PID 1 and host: new network, mount and PID namespaces, a
/// fresh /proc for them, and catatonit as init, which reaps every orphan
/// (the machine's own PID 1 does not) and whose death ends the lab: the
/// kernel kills every process of a PID namespace whose init dies.
/// `--kill-child` ends it when unshare is killed, so a lab whose `Lab`
/// value is gone cannot outlive it.
const INIT: [&str; 10] = [
    "--net",
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "--",
    "catatonit",
];

/// Reads one line from a lab process and checks it.
fn expect_line(bg: &mut Bg, line: &str, what: &str) {
    assert_eq!(bg.line(), line, "{what}");
}

impl Lab {
    /// Builds a lab for `test`, or prints `SKIP` and returns `None` when the
    /// test may not run (see [`crate::privileged`]). Use the `lab!()` macro.
    pub fn new(test: &str) -> Option<Lab> {
        if !crate::privileged(test) {
            return None;
        }
        for program in [
            "ip",
            "nft",
            "iptables",
            "unshare",
            "catatonit",
            "dnsmasq",
            "ping",
            "python3",
        ] {
            assert!(
                which_ok(program),
                "the lab needs {program}: run .ci/run or `just deps` to install it"
            );
        }
        // The lab's scripts first: a build directory may hold anything of
        // the same name from an older layout.
        let path = format!(
            "{}:{}:{}",
            crate::script_dir().display(),
            crate::bin_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        );
        let mut unshare = {
            let mut cmd = Command::new("unshare");
            cmd.args(INIT).args(["--", "sh", "-c", HOST_SETUP]);
            // Read only when the setup fails: when the lab goes, its init
            // is SIGKILLed, and unshare says so there.
            cmd.stderr(Stdio::piped());
            Bg::start(cmd)
        };
        if unshare.line() != "ready" {
            let mut why = String::new();
            if let Some(mut err) = unshare.child.stderr.take() {
                let _ = err.read_to_string(&mut why);
            }
            panic!("the lab's host could not be set up: {}", why.trim_end());
        }
        let init_pid = children(unshare.child.id() as i32)
            .first()
            .copied()
            .expect("the lab's init");
        let holder = children(init_pid)
            .first()
            .and_then(|pid| lab_pid_of(*pid))
            .expect("the process holding the lab's host");
        let ns = |kind: &str| {
            let path = format!("/proc/{init_pid}/ns/{kind}");
            Arc::new(OwnedFd::from(
                std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}")),
            ))
        };
        let doors = Doors {
            pid: ns("pid"),
            mnt: ns("mnt"),
            host_net: ns("net"),
            init_pid,
            path,
        };
        let mut internet = Bg::start(doors.command(
            doors.host_net.clone(),
            &["unshare", "--net", "--", "sh", "-c", INTERNET_SETUP],
        ));
        expect_line(
            &mut internet,
            "ready",
            "the lab's internet could not be set up",
        );
        let mut uplink = doors.command(doors.host_net.clone(), &["sh", "-c", UPLINK_SETUP]);
        uplink.env("INTERNET", internet.pid().to_string());
        collect(uplink, None).expect_ok("setting up the lab's uplink");
        collect(
            doors.command_in(internet.pid(), &["sh", "-c", WAN_SETUP]),
            None,
        )
        .expect_ok("setting up the lab's internet side");
        let mut service = Bg::start(doors.command_in(
            internet.pid(),
            &["labsvc", "serve", crate::SERVICE, crate::SERVICE6],
        ));
        expect_line(&mut service, "ready", "the lab service did not start");
        let mut dns = Bg::start(doors.command_in(internet.pid(), &["sh", "-c", DNS_COMMAND]));
        loop {
            let line = dns.line();
            assert!(!line.is_empty(), "the lab's DNS server did not start");
            if line.contains("started") {
                break;
            }
        }
        let infrastructure = [1, holder, internet.pid(), service.pid(), dns.pid()]
            .into_iter()
            .collect();
        Some(Lab {
            name: test.to_string(),
            init_pid,
            init: PidFd::open(init_pid).expect("the lab's init"),
            infrastructure,
            unshare,
            internet,
            _held: [service, dns],
            doors,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A PID holding the host namespace (`/proc/PID/ns/net` in the lab):
    /// the lab's init.
    pub fn host_pid(&self) -> i32 {
        1
    }

    pub fn internet_pid(&self) -> i32 {
        self.internet.pid()
    }

    /// The lab's /proc entry of its process `pid`, readable from outside.
    pub fn proc(&self, pid: i32) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/proc/{pid}", self.init_pid))
    }

    /// A command that runs in host (its network and mount namespace, in
    /// the lab's PID namespace), with the workspace's binaries first on
    /// PATH.
    pub fn command<S: AsRef<OsStr>>(&self, argv: &[S]) -> Command {
        let mut cmd = self.doors.command(self.doors.host_net.clone(), argv);
        // A script run in the lab reaches this lab's internet (and no
        // other lab's) through /proc/$NSNET_LAB_INTERNET/ns/net.
        cmd.env("NSNET_LAB_INTERNET", self.internet.pid().to_string());
        cmd
    }

    /// A command that runs in the network namespace of the lab's process
    /// `pid`, with host's mounts.
    pub fn command_in<S: AsRef<OsStr>>(&self, pid: i32, argv: &[S]) -> Command {
        self.doors.command_in(pid, argv)
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

    /// Makes the lab's host forward IPv4, as a host running containers
    /// behind NAT does. natctl add turns forwarding on and rightly leaves
    /// it on (other containers and programs may need it), so a residue
    /// check of a scenario with NAT starts from a host where it is on.
    pub fn forward_ipv4(&self) {
        self.sh_ok("echo 1 > /proc/sys/net/ipv4/ip_forward");
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

    /// Sends `signal` to the lab's process `pid` (a PID a lab command
    /// printed or wrote), from inside the lab.
    pub fn kill(&self, pid: i32, signal: nix::sys::signal::Signal) {
        self.sh_ok(&format!("kill -s {} {pid}", &signal.as_str()[3..]));
    }

    /// Waits until the lab's process `pid` has ended (at once if there is
    /// none), without polling: a pidfd taken inside the lab. Fails the
    /// test if it still runs after two minutes, a guard against hanging,
    /// not a measure of time.
    pub fn wait_exit(&self, pid: i32) {
        self.run(&["labsvc", "wait-exit", &pid.to_string(), "120"])
            .expect_ok(&format!("waiting for the lab's process {pid} to end"));
    }

    /// Lets every user open /dev/net/tun in the lab, as most distributions
    /// do (this machine keeps it root-only): a node of the lab's own, mode
    /// 666, is bind-mounted over it in the lab's mount namespace. The real
    /// /dev/net/tun is never changed. For unprivileged tests (pasta).
    pub fn open_tun_to_everyone(&self) {
        self.sh_ok(
            "mknod -m 666 /run/nsnet-lab-tun c 10 200 && \
             mount --bind /run/nsnet-lab-tun /dev/net/tun",
        );
    }

    /// Makes the lab's DNS server host's resolver: a file of the lab's own
    /// saying `nameserver 203.0.113.53` is bind-mounted over /etc/resolv.conf
    /// in the lab's mount namespace, as a machine whose resolver is on its
    /// network would have it.
    pub fn resolve_through_lab_dns(&self) {
        self.sh_ok(&format!(
            "echo 'nameserver {}' > /run/nsnet-lab-resolv.conf && \
             mount --bind /run/nsnet-lab-resolv.conf /etc/resolv.conf",
            crate::DNS
        ));
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

    /// The lab PIDs of every live process in the lab, the lab's own aside:
    /// the lab's /proc lists its PID namespace and every one inside it, so
    /// nothing a test started can hide. Zombies are left out: they hold
    /// nothing, and the lab's init reaps those it inherits.
    pub fn process_ids(&self) -> Vec<i32> {
        let proc = PathBuf::from(format!("/proc/{}/root/proc", self.init_pid));
        let mut pids: Vec<i32> = std::fs::read_dir(&proc)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| !self.infrastructure.contains(pid))
            .filter(|pid| {
                std::fs::read_to_string(proc.join(format!("{pid}/stat")))
                    .ok()
                    .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()? != "Z"))
                    .unwrap_or(false)
            })
            .collect();
        pids.sort_unstable();
        pids
    }

    fn processes(&self) -> Vec<String> {
        let mut list: Vec<String> = self
            .process_ids()
            .into_iter()
            .filter_map(|pid| {
                let cmdline = std::fs::read(self.proc(pid).join("cmdline")).ok()?;
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
        // The lab's init goes, and the kernel kills every process left in
        // the lab's PID namespace (and in those inside it) with it; the
        // namespaces die with the last. Whatever a test started and left
        // running is gone too. The init's exit ends only once all of them
        // have been reaped; then unshare reaps the init. unshare is waited
        // for, not killed: killed first, it would leave the init to the
        // machine's PID 1, which does not reap.
        self.init.signal(nix::sys::signal::Signal::SIGKILL);
        let _ = self.unshare.child.wait();
    }
}

/// The PIDs (as we see them) of the children of process `pid`.
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// What a command needs to get into the lab: its namespaces, and the PATH
/// it finds the tools on.
#[derive(Debug)]
struct Doors {
    pid: Arc<OwnedFd>,
    mnt: Arc<OwnedFd>,
    host_net: Arc<OwnedFd>,
    init_pid: i32,
    path: String,
}

impl Doors {
    fn command<S: AsRef<OsStr>>(&self, net: Arc<OwnedFd>, argv: &[S]) -> Command {
        let (program, args) = argv.split_first().expect("a command");
        let mut cmd = Command::new(program);
        cmd.args(args).env("PATH", &self.path).env("NSNET_LAB", "1");
        crate::door::enter(
            &mut cmd,
            crate::door::Namespaces {
                pid: self.pid.clone(),
                mnt: self.mnt.clone(),
                net,
            },
        );
        cmd
    }

    /// A command in the network namespace of the lab's process `pid`,
    /// found through the lab's /proc.
    fn command_in<S: AsRef<OsStr>>(&self, pid: i32, argv: &[S]) -> Command {
        let path = format!("/proc/{}/root/proc/{pid}/ns/net", self.init_pid);
        let net = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e} (is {pid} a PID in the lab?)"));
        self.command(Arc::new(OwnedFd::from(net)), argv)
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
