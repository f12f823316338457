//! `natctl add --out IFACE`, property-tested over interface names: every
//! name the kernel accepts (any printable byte but '/', ':' and whitespace,
//! up to 15 bytes, iproute2's own words included) either reaches the
//! firewall as exactly that name — natctl list says it, the rule matches
//! it and no other — or is refused in one line, changing nothing.

#[path = "support/natctl.rs"]
mod support;

use nsnet_lab::{lab, Lab};
use support::*;

for_both_backends!(every_out_name_is_matched_exactly_or_refused);

/// Names with a meaning somewhere: iproute2's grammar, shell and firewall
/// syntax, wildcards, negation.
const TRICKY: &[&str] = &[
    "dev",
    "name",
    "help",
    "type",
    "up",
    "down",
    "all",
    "any",
    "link",
    "default",
    "to",
    "via",
    "master",
    "address",
    "eth0+",
    "a*",
    "*",
    "+",
    "-x",
    "--",
    "!x",
    "!",
    "\"q",
    "'q",
    "a\\b",
    "..x",
    "#x",
    "$x",
    "a;b",
    "a|b",
    "`x`",
    "a&b",
    "(x)",
    "{x}",
    "[x]",
    "x=y",
    "%x",
    "~x",
    "0",
    "1234567890abcde",
    "nsnet:x",
    "-o",
    "!=",
    "{",
    "}",
];

/// A small deterministic generator (xorshift): the same names every run.
struct Names(u64);

impl Names {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A name of 1 to 15 printable bytes, none of them '/', ':' or space.
    fn name(&mut self) -> String {
        let alphabet: Vec<u8> = (0x21..=0x7e).filter(|b| !b"/:".contains(b)).collect();
        let len = 1 + (self.next() % 15) as usize;
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

/// The out interface natctl's rule names, as the firewall itself says.
fn rule_out_name(lab: &Lab, backend: &str) -> Option<String> {
    let script = match backend {
        "nft" => {
            "nft -j list set ip nsnet masq_out | python3 -c 'import json, sys\n\
             for o in json.load(sys.stdin)[\"nftables\"]:\n\
             \x20   for e in o.get(\"set\", {}).get(\"elem\", []):\n\
             \x20       print(e[\"concat\"][1])'"
        }
        _ => {
            "iptables-save -t nat | python3 -c 'import shlex, sys\n\
             for line in sys.stdin:\n\
             \x20   w = shlex.split(line)\n\
             \x20   if w[:2] == [\"-A\", \"NSNET-POSTROUTING\"] and \"-o\" in w:\n\
             \x20       print(w[w.index(\"-o\") + 1])'"
        }
    };
    let out = lab.sh_ok(script);
    let mut lines = out.lines();
    let name = lines.next().map(str::to_string);
    assert_eq!(lines.next(), None, "more than one out rule:\n{out}");
    name
}

/// `--out=NAME`: a name may begin with '-'.
fn out_flag(name: &str) -> String {
    format!("--out={name}")
}

fn every_out_name_is_matched_exactly_or_refused(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    let mut names: Vec<String> = TRICKY.iter().map(|n| n.to_string()).collect();
    let mut gen = Names(0x5eed_0f0a_7c71);
    names.extend((0..40).map(|_| gen.name()));
    let (mut matched, mut refused, mut uncreatable) = (0, 0, 0);
    for name in &names {
        let made = lab.run(&["ip", "link", "add", "name", name, "type", "ifb"]);
        let listed = lab.sh_ok("ip -o link show | cut -d: -f2 | sed 's/^ //; s/@.*//'");
        if !made.ok() || !listed.lines().any(|l| l == name) {
            // ip could not make it (or made another): the kernel's own
            // refusals ('.', '..') and ip's; natctl must still refuse it.
            lab.sh(&format!(
                "ip link del dev '{}' 2>/dev/null",
                name.replace('\'', "'\\''")
            ));
            let out = natctl(
                &lab,
                &["add", "--backend", backend, "10.0.0.0/24", &out_flag(name)],
            );
            assert_ne!(
                out.code(),
                0,
                "{name:?}: accepted without such an interface"
            );
            assert_eq!(out.stderr.lines().count(), 1, "{name:?}: {}", out.stderr);
            uncreatable += 1;
            continue;
        }
        let out = natctl(
            &lab,
            &["add", "--backend", backend, "10.0.0.0/24", &out_flag(name)],
        );
        match out.code() {
            0 => {
                assert_eq!(
                    list(&lab),
                    format!("10.0.0.0/24 masquerade out={name} backend={backend}\n"),
                    "{name:?}"
                );
                assert_eq!(
                    rule_out_name(&lab, backend).as_deref(),
                    Some(name.as_str()),
                    "{name:?}"
                );
                natctl(&lab, &["del", "10.0.0.0/24"]).expect_ok("del");
                matched += 1;
            }
            2 => {
                assert_one_line(&out, 2, "a firewall rule cannot match");
                assert_eq!(list(&lab), "", "{name:?}: refused, yet something changed");
                refused += 1;
            }
            code => panic!("{name:?}: status {code}: {}", out.stderr),
        }
        lab.run(&["ip", "link", "del", "dev", name])
            .expect_ok("ip link del");
    }
    assert!(
        matched > 30,
        "only {matched} names matched, {refused} refused"
    );
    assert!(
        refused > 0 && uncreatable < names.len() / 4,
        "{refused} refused, {uncreatable} not made"
    );
    tidy(&lab);
    lab.assert_unchanged(&before);
}
