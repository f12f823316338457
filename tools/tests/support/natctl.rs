//! What the natctl test files share: running natctl in the lab, stand-in
//! containers, what a service saw, the firewall as text, the one-line
//! diagnostic contract. Included by each `natctl*.rs` test with `#[path]`.
#![allow(dead_code)]

use nsnet_lab::{Bg, Lab, Out};

/// One test function per backend for each scenario below.
#[macro_export]
macro_rules! for_both_backends {
    ($($name:ident),* $(,)?) => {
        mod nft {
            $( #[test] fn $name() { super::$name("nft") } )*
        }
        mod iptables {
            $( #[test] fn $name() { super::$name("iptables") } )*
        }
    };
}

/// natctl in the lab's host, with no backend from the caller's environment.
pub fn natctl(lab: &Lab, args: &[&str]) -> Out {
    natctl_env(lab, args, &[])
}

/// natctl with extra environment, set inside the lab (a PATH may name
/// folders that exist only in the lab's /run).
pub fn natctl_env(lab: &Lab, args: &[&str], env: &[(&str, &str)]) -> Out {
    let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut argv = vec!["env", "-u", "NATCTL_BACKEND"];
    argv.extend(vars.iter().map(String::as_str));
    argv.push("natctl");
    argv.extend(args);
    lab.run(&argv)
}

pub fn add(lab: &Lab, backend: &str, args: &[&str]) {
    let mut argv = vec!["add", "--backend", backend];
    argv.extend(args);
    natctl(lab, &argv).expect_ok(&format!("natctl {}", argv.join(" ")));
}

/// The stand-in container: a namespace with eth0 at 10.0.0.2/24 and
/// fd00:10::2/64, default routes via the host's veth0 (.1, ::1).
pub fn container(lab: &Lab) -> Bg {
    container_n(lab, 0)
}

/// Container number n: veth{n}, 10.0.{n}.2/24 and fd00:1{n}::2/64.
pub fn container_n(lab: &Lab, n: u8) -> Bg {
    let holder = lab.netns_holder();
    let pid = holder.pid();
    lab.sh_ok(&format!(
        "ip link add veth{n} type veth peer name eth0 netns {pid} && \
         echo 0 > /proc/sys/net/ipv6/conf/veth{n}/accept_dad && \
         ip addr add 10.0.{n}.1/24 dev veth{n} && \
         ip -6 addr add fd00:1{n}::1/64 dev veth{n} nodad && ip link set veth{n} up"
    ));
    lab.sh_in(
        pid,
        &format!(
            "ip link set lo up && ip addr add 10.0.{n}.2/24 dev eth0 && \
             ip -6 addr add fd00:1{n}::2/64 dev eth0 nodad && ip link set eth0 up && \
             ip route add default via 10.0.{n}.1 && ip -6 route add default via fd00:1{n}::1"
        ),
    )
    .expect_ok("setting up the container side");
    holder
}

/// What the lab service saw as the source of a request from the container
/// (`Err` with the client's words when no answer came).
pub fn seen(lab: &Lab, c: &Bg, proto: &str, service: &str) -> Result<String, String> {
    let out = lab.output(lab.command_in(c.pid(), &["labsvc", "ask", proto, service]));
    if out.ok() {
        Ok(out.stdout.trim().to_string())
    } else {
        Err(out.stderr.lines().next().unwrap_or("").to_string())
    }
}

pub fn list(lab: &Lab) -> String {
    natctl(lab, &["list"]).expect_ok("natctl list").stdout
}

/// The firewall with rule handles (a rewritten rule gets a new one) and
/// without counters.
pub fn firewall(lab: &Lab) -> String {
    lab.sh_ok(
        "nft -s -a list ruleset; for t in iptables-save ip6tables-save; do \
         $t | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'; done",
    )
}

/// How many rules natctl's nft table holds: fixed, whatever it holds.
pub const RULES_V4: usize = 11;

/// The number of rules in `table FAMILY nsnet`, as nft -j lists them.
pub fn nft_rules(lab: &Lab, family: &str) -> usize {
    let json = lab.sh_ok(&format!("nft -j list table {family} nsnet"));
    json.matches("{\"rule\":").count()
}

pub fn forwarding(lab: &Lab, family: &str) -> String {
    let path = match family {
        "4" => "/proc/sys/net/ipv4/ip_forward",
        _ => "/proc/sys/net/ipv6/conf/all/forwarding",
    };
    lab.sh_ok(&format!("cat {path}")).trim().to_string()
}

/// del and flush leave forwarding on (other containers or programs may
/// need it); a test turns it off again before its residue check, because
/// IPv6 forwarding adds the router's anycast routes.
pub fn forwarding_off(lab: &Lab) {
    assert_eq!(forwarding(lab, "4"), "1", "del left forwarding as it was");
    lab.sh_ok(
        "echo 0 > /proc/sys/net/ipv4/ip_forward && \
         echo 0 > /proc/sys/net/ipv6/conf/all/forwarding",
    );
}

/// The one-line diagnostic contract: nothing on stdout, one stderr line
/// naming the tool.
pub fn assert_one_line(out: &Out, status: i32, words: &str) {
    assert_eq!(out.code(), status, "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "", "nothing on stdout");
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    assert!(
        out.stderr.starts_with("natctl: ") && out.stderr.contains(words),
        "expected '{words}' in: {}",
        out.stderr
    );
}

/// A PATH of symlinks to every program on the lab's PATH except those
/// named, so natctl can be run on a "host" without them.
pub fn path_without(lab: &Lab, dir: &str, missing: &[&str]) -> String {
    let skip = missing.join(" ");
    lab.sh_ok(&format!(
        "mkdir -p {dir} && for d in $(echo \"$PATH\" | tr : ' '); do \
           for f in \"$d\"/*; do n=${{f##*/}}; \
             case \" {skip} \" in *\" $n \"*) continue;; esac; \
             [ -e {dir}/\"$n\" ] || [ -L {dir}/\"$n\" ] || ln -s \"$f\" {dir}/\"$n\"; \
           done; done; true"
    ));
    dir.to_string()
}

/// Other programs' rules: a foreign nft table with its own forward and nat
/// chains, Docker-like iptables rules, FORWARD policy DROP for both families.
pub const NEIGHBOURS: &str = r#"
set -e
nft add table inet foreign
nft add chain inet foreign guard '{ type filter hook forward priority 10; policy accept; }'
nft add rule inet foreign guard ip saddr 192.0.2.0/24 counter drop
nft add rule inet foreign guard iifname "ifb9" drop
nft add chain inet foreign outbound '{ type nat hook postrouting priority 50; }'
nft add rule inet foreign outbound ip saddr 192.0.2.0/24 oifname up0 masquerade
iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
iptables -N DOCKER-USER
iptables -A DOCKER-USER -j RETURN
iptables -A FORWARD -j DOCKER-USER
iptables -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -P FORWARD DROP
ip6tables -A FORWARD -s 2001:db8:dead::/48 -j DROP
ip6tables -P FORWARD DROP
"#;

/// A container made as a user makes one: `nsrun --net` with a `vethup`
/// hook (onto bridge `nsbr0` when `bridge`, else point to point with the
/// host end's addresses `host`), then `netinit ADDRS -- COMMAND`. Extra
/// hooks and on-exit hooks come first. The PID the container's processes
/// see as theirs is in /run/NAME.pid once it runs.
#[derive(Clone, Copy)]
pub struct Container<'a> {
    pub name: &'a str,
    pub addrs: &'a [&'a str],
    pub host: &'a [&'a str],
    pub bridge: bool,
    pub hooks: &'a [&'a str],
    pub on_exit: &'a [&'a str],
}

impl<'a> Container<'a> {
    /// The same container under another name: a name is free again only
    /// once the kernel has dismantled the last one's namespace.
    pub fn named(self, name: &'a str) -> Container<'a> {
        Container { name, ..self }
    }

    pub fn argv(&self, command: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            "nsrun".into(),
            "--net".into(),
            "--pid-file".into(),
            format!("/run/{}.pid", self.name),
        ];
        for h in self.hooks {
            argv.extend(["--hook".to_string(), h.to_string()]);
        }
        let mut vethup = String::from("vethup");
        if self.bridge {
            vethup.push_str(" --bridge nsbr0");
        }
        for a in self.host {
            vethup.push_str(&format!(" --addr {a}"));
        }
        vethup.push_str(&format!(" {} $NSRUN_PID", self.name));
        argv.extend(["--hook".to_string(), vethup]);
        for h in self.on_exit {
            argv.extend(["--on-exit".to_string(), h.to_string()]);
        }
        argv.extend(["--".into(), "netinit".into()]);
        argv.extend(self.addrs.iter().map(|a| a.to_string()));
        argv.push("--".into());
        argv.extend(command.iter().map(|w| w.to_string()));
        argv
    }

    /// Starts the container with a command that prints one line when it
    /// is ready, and waits for that line.
    pub fn serve(&self, lab: &Lab, command: &[&str]) -> Bg {
        let mut bg = lab.spawn_command(lab.command(&self.argv(command)));
        let line = bg.line();
        assert_eq!(line, "ready", "container {} did not start", self.name);
        bg
    }

    /// Runs the container with a one-shot command; its output.
    pub fn run(&self, lab: &Lab, command: &[&str]) -> Out {
        lab.run(&self.argv(command))
    }

    /// The PID of the container's payload (its network namespace).
    pub fn pid(&self, lab: &Lab) -> i32 {
        lab.sh_ok(&format!("cat /run/{}.pid", self.name))
            .trim()
            .parse()
            .expect("a PID in the pid file")
    }
}

/// What `labsvc ask` printed (the source address the service saw), or the
/// client's error words.
pub fn answer(out: Out) -> Result<String, String> {
    if out.ok() {
        Ok(out.stdout.trim().to_string())
    } else {
        Err(out.stderr.lines().next().unwrap_or("").to_string())
    }
}

/// Asks `service` from the lab's internet.
pub fn ask_from_internet(lab: &Lab, proto: &str, service: &str) -> Result<String, String> {
    answer(lab.output(lab.command_in(lab.internet_pid(), &["labsvc", "ask", proto, service])))
}

/// Asks `service` from the lab's host.
pub fn ask_from_host(lab: &Lab, proto: &str, service: &str) -> Result<String, String> {
    answer(lab.run(&["labsvc", "ask", proto, service]))
}

/// Asks `service` from the network namespace of `pid`.
pub fn ask_from(lab: &Lab, pid: i32, proto: &str, service: &str) -> Result<String, String> {
    answer(lab.output(lab.command_in(pid, &["labsvc", "ask", proto, service])))
}

/// Removes the lab's bridge and pairs that vethup made, and turns
/// forwarding off: what a test does before its residue check.
pub fn tidy(lab: &Lab) {
    lab.sh_ok(
        "vethdown --all; echo 0 > /proc/sys/net/ipv4/ip_forward; \
         echo 0 > /proc/sys/net/ipv6/conf/all/forwarding",
    );
}
