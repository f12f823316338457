//! "A name is a name" (issue 15): every interface and namespace name the
//! kernel accepts reaches the kernel exactly, or is refused up front with
//! one line. Names are drawn from the whole alphabet the kernel allows
//! (every printable byte but `/`, `:` and whitespace, up to 15 bytes) by a
//! seeded generator, so a failure repeats, together with words of `ip`'s
//! own grammar and names that look like numbers. For each name and each
//! place a name goes (vethup HOSTIF, `--ifname`, `--bridge`, TARGET under
//! /run/netns, vethdown HOSTIF and `--all`, netinit `--iface`), exactly the
//! named object, and nothing else, is created, configured or removed; and
//! the script `--dry-run` prints does the same as the run.
//!
//! What each namespace holds is read with nsnet's own netlink reads from
//! outside, so no parser of `ip`'s output stands between the test and the
//! kernel.

use nsnet::netlink::{Address, Link, Socket};
use nsnet_lab::{lab, Bg, Lab, Out};
use std::os::fd::AsFd;

/// Words of `ip`'s grammar, names that read as numbers or options, and the
/// edges of the alphabet.
const SPECIAL: &[&str] = &[
    "dev",
    "help",
    "type",
    "peer",
    "netns",
    "name",
    "alias",
    "up",
    "down",
    "master",
    "nomaster",
    "mtu",
    "-batch",
    "-force",
    "all0",
    "defaults",
    "add",
    "del",
    "via",
    "nodad",
    "link",
    "1",
    "42",
    "007",
    "0x10",
    "-1",
    "1e3",
    "if1",
    "-",
    "--",
    "!",
    "~",
    "\"'`$(x)",
    "*?[a]",
    "a;b|c&d",
    "{}<>#=^",
    "\\",
    "fifteen-bytes15",
];

/// xorshift64*: small, seeded, the same names on every run.
struct Names(u64);

impl Names {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A name of 1 to 15 bytes, each a printable byte but `/`, `:` and `%`
    /// (the kernel reads `%` as a template; it is refused, see below).
    fn name(&mut self) -> String {
        let alphabet: Vec<u8> = (0x21u8..=0x7e).filter(|b| !b"/:%".contains(b)).collect();
        let len = 1 + (self.next() % 15) as usize;
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

/// The names under test: the special ones, then drawn ones, none equal to
/// a link the lab already has, nor to `.` and `..` (refused, see below).
fn names() -> Vec<String> {
    let mut drawn = Names(0x6e73_6e65_745f_3135);
    let mut names: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
    while names.len() < SPECIAL.len() + 24 {
        names.push(drawn.name());
    }
    names.retain(|n| !["lo", "up0", ".", "..", "all", "default"].contains(&n.as_str()));
    names
}

/// Links and addresses of the network namespace of the lab's process `pid`.
fn look(lab: &Lab, pid: i32) -> (Vec<Link>, Vec<Address>) {
    let ns = std::fs::File::open(lab.proc(pid).join("ns/net")).expect("a namespace");
    let mut socket = Socket::in_netns(ns.as_fd()).expect("a socket there");
    let mut links = socket.links().expect("links");
    links.sort_by_key(|l| l.index);
    (links, socket.addresses().expect("addresses"))
}

fn names_of(links: &[Link]) -> Vec<String> {
    let mut names: Vec<String> = links.iter().map(|l| l.name.clone()).collect();
    names.sort();
    names
}

/// The links of `after` that `before` does not have, by name.
fn new_links<'a>(before: &[Link], after: &'a [Link]) -> Vec<&'a Link> {
    after
        .iter()
        .filter(|l| !before.iter().any(|b| b.name == l.name))
        .collect()
}

fn ok(out: Out, what: &str) {
    out.expect_ok(what);
}

fn arg(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// vethdown of one name: `-` is read from stdin, where it is a name.
fn vethdown(lab: &Lab, name: &str) -> Out {
    if name == "-" {
        lab.run_with_stdin(&["vethdown", "-"], "-\n")
    } else {
        lab.run(&["vethdown", "--", name])
    }
}

/// Runs vethup with `argv`, or prints it and pipes the script to sh.
fn vethup(lab: &Lab, argv: &[String], dry: bool) -> Out {
    let mut words = arg(&["vethup"]);
    if dry {
        words.push("--dry-run".into());
    }
    words.extend(argv.iter().cloned());
    let out = lab.run(&words);
    if !dry || !out.ok() {
        return out;
    }
    lab.run_with_stdin(&["sh", "-e"], &out.stdout)
}

struct World<'a> {
    lab: &'a Lab,
    c: &'a Bg,
    host: (Vec<Link>, Vec<Address>),
    inside: (Vec<Link>, Vec<Address>),
}

impl World<'_> {
    fn host_now(&self) -> (Vec<Link>, Vec<Address>) {
        look(self.lab, self.lab.host_pid())
    }

    fn inside_now(&self) -> (Vec<Link>, Vec<Address>) {
        look(self.lab, self.c.pid())
    }

    /// Host and container are as they were.
    fn unchanged(&self, what: &str) {
        assert_eq!(
            names_of(&self.host_now().0),
            names_of(&self.host.0),
            "{what}: host"
        );
        assert_eq!(self.host_now().1, self.host.1, "{what}: host addresses");
        assert_eq!(
            names_of(&self.inside_now().0),
            names_of(&self.inside.0),
            "{what}: container"
        );
    }

    /// HOSTIF: the host gains exactly `name`, a marked veth holding the
    /// address; the container gains exactly eth0; vethdown takes them.
    fn as_hostif(&self, name: &str, dry: bool) {
        let what = format!("HOSTIF {name:?} (dry run {dry})");
        let pid = self.c.pid().to_string();
        ok(
            vethup(
                self.lab,
                &arg(&["--addr", "10.9.0.1/24", "--", name, &pid]),
                dry,
            ),
            &what,
        );
        let (links, addrs) = self.host_now();
        let new = new_links(&self.host.0, &links);
        assert_eq!(names_of(&links).len(), self.host.0.len() + 1, "{what}");
        assert_eq!(new.len(), 1, "{what}: {new:?}");
        assert_eq!(new[0].name, name, "{what}");
        assert!(new[0].is("veth") && new[0].marked("nsnet:vethup"), "{what}");
        let held: Vec<&Address> = addrs.iter().filter(|a| a.index == new[0].index).collect();
        assert_eq!(held.len(), 1, "{what}: {held:?}");
        assert_eq!(held[0].addr.to_string(), "10.9.0.1", "{what}");
        assert_eq!(
            names_of(&self.inside_now().0),
            ["eth0", "lo"],
            "{what}: container"
        );
        ok(vethdown(self.lab, name), &what);
        self.unchanged(&what);
    }

    /// `--ifname`: the container gains exactly `name`; netinit `--iface`
    /// then configures exactly that interface.
    fn as_ifname(&self, name: &str, dry: bool) {
        let what = format!("--ifname {name:?} (dry run {dry})");
        let pid = self.c.pid().to_string();
        let ifname = format!("--ifname={name}");
        ok(
            vethup(self.lab, &arg(&[&ifname, "--", "h0", &pid]), dry),
            &what,
        );
        let (inside, _) = self.inside_now();
        let mut expected = vec![name.to_string(), "lo".to_string()];
        expected.sort();
        assert_eq!(names_of(&inside), expected, "{what}");
        assert_eq!(
            new_links(&self.host.0, &self.host_now().0)
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>(),
            ["h0"],
            "{what}"
        );
        if !dry {
            self.netinit(name);
        }
        ok(self.lab.run(&["vethdown", "h0"]), &what);
        self.unchanged(&what);
    }

    /// netinit `--iface`: exactly `name` is addressed and up; lo is up;
    /// nothing else in the container changes.
    fn netinit(&self, name: &str) {
        let what = format!("netinit --iface {name:?}");
        let iface = format!("--iface={name}");
        let netinit = nsnet_lab::bin("netinit");
        ok(
            self.lab.output(self.lab.command_in(
                self.c.pid(),
                &[
                    netinit.to_str().unwrap(),
                    &iface,
                    "--wait=0",
                    "--no-gateway",
                    "10.9.0.2/24",
                    "--",
                    "true",
                ],
            )),
            &what,
        );
        let (links, addrs) = self.inside_now();
        let iface = links
            .iter()
            .find(|l| l.name == name)
            .expect("the interface");
        assert!(iface.up, "{what}: not up");
        let mine: Vec<String> = addrs
            .iter()
            .filter(|a| a.index == iface.index)
            .map(|a| format!("{}/{}", a.addr, a.prefix))
            .filter(|a| !a.starts_with("fe80"))
            .collect();
        assert_eq!(mine, ["10.9.0.2/24"], "{what}");
        let others: Vec<&Link> = links
            .iter()
            .filter(|l| l.name != name && l.name != "lo")
            .collect();
        assert!(others.is_empty(), "{what}: {others:?} appeared");
        // lo is up now, as netinit's first step makes it; take it down
        // again so the next name starts from the same container.
        ok(
            self.lab.output(
                self.lab
                    .command_in(self.c.pid(), &["ip", "link", "set", "dev", "lo", "down"]),
            ),
            &what,
        );
    }

    /// `--bridge`: the host gains exactly the bridge `name`, marked, and
    /// the pair attached to it; vethdown takes both.
    fn as_bridge(&self, name: &str, dry: bool) {
        let what = format!("--bridge {name:?} (dry run {dry})");
        let pid = self.c.pid().to_string();
        let bridge = format!("--bridge={name}");
        ok(
            vethup(
                self.lab,
                &arg(&[&bridge, "--addr", "10.9.0.1/24", "--", "h0", &pid]),
                dry,
            ),
            &what,
        );
        let (links, _) = self.host_now();
        let new = new_links(&self.host.0, &links);
        assert_eq!(new.len(), 2, "{what}: {new:?}");
        let br = new.iter().find(|l| l.name == name).expect("the bridge");
        assert!(br.is("bridge") && br.marked("nsnet:vethup"), "{what}");
        let port = new.iter().find(|l| l.name == "h0").expect("the port");
        assert_eq!(port.master, Some(br.index), "{what}");
        ok(self.lab.run(&["vethdown", "h0"]), &what);
        self.unchanged(&what);
    }

    /// TARGET: a namespace bound at /run/netns/NAME; the pair's peer goes
    /// into exactly that namespace.
    fn as_target(&self, name: &str, dry: bool) {
        let what = format!("TARGET {name:?} (dry run {dry})");
        let path = format!("/run/netns/{name}");
        ok(
            self.lab.run(&[
                "sh",
                "-c",
                "mkdir -p /run/netns && touch \"$1\" && mount --bind \"/proc/$2/ns/net\" \"$1\"",
                "sh",
                &path,
                &self.c.pid().to_string(),
            ]),
            &what,
        );
        // A NAME that is all digits is a PID; the path names it then.
        let target = if name.bytes().all(|b| b.is_ascii_digit()) {
            path.clone()
        } else {
            name.to_string()
        };
        ok(vethup(self.lab, &arg(&["--", "h0", &target]), dry), &what);
        assert_eq!(
            names_of(&self.inside_now().0),
            ["eth0", "lo"],
            "{what}: container"
        );
        ok(self.lab.run(&["vethdown", "h0"]), &what);
        ok(
            self.lab
                .run(&["sh", "-c", "umount \"$1\" && rm \"$1\"", "sh", &path]),
            &what,
        );
        self.unchanged(&what);
    }
}

#[test]
fn every_name_names_exactly_its_object() {
    let lab = lab!();
    let c = lab.netns_holder();
    let before = lab.snapshot();
    let world = World {
        lab: &lab,
        c: &c,
        host: look(&lab, lab.host_pid()),
        inside: look(&lab, c.pid()),
    };
    for (i, name) in names().iter().enumerate() {
        // Each way on every name would take long; the dry run takes turns.
        let dry = i % 2 == 1;
        world.as_hostif(name, dry);
        world.as_ifname(name, dry);
        world.as_bridge(name, !dry);
        world.as_target(name, dry);
    }
    lab.assert_unchanged(&before);
}

#[test]
fn vethdown_all_removes_exactly_the_marked_names() {
    let lab = lab!();
    let holders: Vec<Bg> = (0..4).map(|_| lab.netns_holder()).collect();
    let mut drawn = Names(0x616c_6c5f_6e61_6d65);
    let picked: Vec<String> = ["-batch", "dev", "42"]
        .iter()
        .map(|s| s.to_string())
        .chain(std::iter::repeat_with(|| drawn.name()).take(1))
        .collect();
    // Someone else's veth with a name of the same kind stays.
    let foreign = drawn.name();
    lab.run(&["ip", "link", "add", "name", &foreign, "type", "veth"])
        .expect_ok("a foreign veth");
    let before = lab.snapshot();
    let host_before = look(&lab, lab.host_pid()).0;
    for (i, (name, c)) in picked.iter().zip(&holders).enumerate() {
        let addr = format!("10.8.{i}.1/24");
        lab.run(&["vethup", "--addr", &addr, "--", name, &c.pid().to_string()])
            .expect_ok(name);
    }
    let made: Vec<String> = new_links(&host_before, &look(&lab, lab.host_pid()).0)
        .iter()
        .map(|l| l.name.clone())
        .collect();
    let mut want = picked.clone();
    want.sort();
    let mut got = made.clone();
    got.sort();
    assert_eq!(got, want);
    lab.run(&["vethdown", "--all"]).expect_ok("vethdown --all");
    assert_eq!(
        names_of(&look(&lab, lab.host_pid()).0),
        names_of(&host_before),
        "--all took more or less than the marked pairs"
    );
    lab.assert_unchanged(&before);
}

/// What the kernel refuses is refused before anything is done, in one
/// line, as a usage error; so are the bytes nsnet refuses to print.
#[test]
fn names_the_kernel_refuses_are_usage_errors() {
    let lab = lab!();
    let c = lab.netns_holder();
    let pid = c.pid().to_string();
    let before = lab.snapshot();
    for bad in [
        ".",
        "..",
        "all",
        "default",
        "veth%d",
        "%",
        "sixteen-bytes-16",
        "a/b",
        "a:b",
        "a b",
        "a\tb",
        "\u{1b}[31m",
        "é",
    ] {
        for argv in [
            vec!["vethup", "--", bad, &pid],
            vec!["vethup", "--ifname", bad, "v0", &pid],
            vec!["vethup", "--bridge", bad, "v0", &pid],
            vec!["vethdown", "--", bad],
        ] {
            let out = lab.run(&argv);
            assert_eq!(out.code(), 2, "{argv:?}: {}", out.stderr);
            assert_eq!(out.stderr.lines().count(), 1, "{argv:?}: {}", out.stderr);
            assert!(
                out.stderr.contains("invalid interface name"),
                "{}",
                out.stderr
            );
        }
    }
    for bad in ["\u{1b}x", "a\tb", "é"] {
        let out = lab.run(&["vethup", "v0", bad]);
        assert_eq!(out.code(), 2, "{bad:?}: {}", out.stderr);
        assert!(out.stderr.contains("invalid target"), "{}", out.stderr);
    }
    lab.assert_unchanged(&before);
}
