//! The residue check: what host looks like (links, addresses, routes,
//! firewall, mounts, namespaces, the sysctls the tools may touch,
//! processes) and a readable diff of two looks.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The script that prints host's state, one `== section` header each.
/// Counters are left out: they change with traffic, not with residue. The
/// sysctls are those natctl, netinit or a firewall change may flip —
/// forwarding, `route_localnet`, `rp_filter`, `disable_ipv6` — for `all`,
/// `default` and every interface (`/proc/sys/net` shows the reader's own
/// network namespace: host's).
pub(crate) const SCRIPT: &str = r#"
echo '== links'; ip -d link show
echo '== addresses'; ip addr show
echo '== routes'; ip route show table all; ip -6 route show table all
echo '== rules'; ip rule show; ip -6 rule show
echo '== nft'; nft -s list ruleset
echo '== iptables'; iptables-save; ip6tables-save
echo '== mounts'; cat /proc/self/mountinfo
echo '== netns'; ls -A /run/netns
# An interface the kernel removes meanwhile takes its files along: no error.
echo '== sysctls'; grep -Hs . /proc/sys/net/ipv4/ip_forward \
    /proc/sys/net/ipv4/conf/*/forwarding /proc/sys/net/ipv4/conf/*/route_localnet \
    /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv6/conf/*/forwarding \
    /proc/sys/net/ipv6/conf/*/disable_ipv6 || true
"#;

/// Host's state, section by section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    sections: BTreeMap<String, Vec<String>>,
}

/// Leaves out what follows the kernel's carrier detection and IPv6
/// duplicate-address detection, which lag behind configuration by up to a
/// second or two (`NO-CARRIER`, `LOWER_UP`, `state DOWN`, `linkdown`,
/// `tentative`): a snapshot taken right after a fast change must not
/// differ from one taken a moment later.
fn without_carrier(line: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut skip_next = false;
    for word in line.split(' ') {
        if skip_next {
            skip_next = false;
            continue;
        }
        match word {
            "state" => skip_next = true,
            "linkdown" => {}
            // IPv6 duplicate-address detection runs on its own clock too.
            "tentative" => {}
            _ => words.push(word.replace("NO-CARRIER,", "").replace(",LOWER_UP", "")),
        }
    }
    words.join(" ")
}

/// Leaves out a bridge's timers (`gc_timer  297.80`): they tick, and are
/// not residue.
fn without_timers(line: &str) -> String {
    let mut words = line.split_whitespace();
    let mut kept = Vec::new();
    while let Some(word) = words.next() {
        if word.ends_with("_timer") {
            words.next();
        } else {
            kept.push(word);
        }
    }
    kept.join(" ")
}

fn normalise(section: &str, line: &str) -> Option<String> {
    if ["links", "addresses", "routes"].contains(&section) {
        // The local route of a link-local address appears when its
        // duplicate-address detection ends; the address itself is compared.
        if section == "routes" && line.starts_with("local fe80::") {
            return None;
        }
        let line = without_carrier(line);
        if section == "links" && line.contains("_timer ") {
            return Some(without_timers(&line));
        }
        return Some(line);
    }
    if section == "iptables" {
        if line.starts_with('#') {
            return None;
        }
        // `:FORWARD DROP [12:3456]` → `:FORWARD DROP`
        if let Some((head, _)) = line.split_once(" [") {
            if line.starts_with(':') {
                return Some(head.to_string());
            }
        }
    }
    Some(line.to_string())
}

impl Snapshot {
    pub(crate) fn parse(text: &str, processes: Vec<String>) -> Snapshot {
        let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current = String::from("?");
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("== ") {
                current = name.to_string();
                sections.entry(current.clone()).or_default();
            } else if let Some(line) = normalise(&current, line) {
                sections.entry(current.clone()).or_default().push(line);
            }
        }
        sections.insert("processes".into(), processes);
        Snapshot { sections }
    }

    /// The lines of one section (`links`, `nft`, `iptables`, `mounts`, …).
    pub fn section(&self, name: &str) -> &[String] {
        self.sections.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// What changed from `self` to `after`: per section, lines gone (`-`)
    /// and lines new (`+`). Empty when nothing changed.
    pub fn diff(&self, after: &Snapshot) -> String {
        let mut out = String::new();
        let names: std::collections::BTreeSet<&String> =
            self.sections.keys().chain(after.sections.keys()).collect();
        for name in names {
            let old = self.section(name);
            let new = after.section(name);
            let gone = minus(old, new);
            let added = minus(new, old);
            if gone.is_empty() && added.is_empty() {
                continue;
            }
            let _ = writeln!(out, "[{name}]");
            for line in gone {
                let _ = writeln!(out, "- {line}");
            }
            for line in added {
                let _ = writeln!(out, "+ {line}");
            }
        }
        out
    }
}

/// The lines of `a` not matched by a line of `b`, as a multiset.
fn minus<'a>(a: &'a [String], b: &[String]) -> Vec<&'a String> {
    let mut left: BTreeMap<&String, usize> = BTreeMap::new();
    for line in b {
        *left.entry(line).or_default() += 1;
    }
    a.iter()
        .filter(|line| match left.get_mut(line) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_lines_gone_and_new_by_section() {
        let a = Snapshot::parse("== links\n1: lo\n2: up0\n== nft\n", vec![]);
        let b = Snapshot::parse(
            "== links\n1: lo\n3: veth0\n== nft\ntable ip nsnet {\n",
            vec!["pid 7: sleep".into()],
        );
        assert_eq!(
            a.diff(&b),
            "[links]\n- 2: up0\n+ 3: veth0\n[nft]\n+ table ip nsnet {\n[processes]\n+ pid 7: sleep\n"
        );
        assert_eq!(a.diff(&a), "");
    }

    #[test]
    fn bridge_timers_are_ignored() {
        let a = Snapshot::parse(
            "== links\n    bridge hello_timer    0.00 gc_timer  297.80 stp_state 0\n",
            vec![],
        );
        let b = Snapshot::parse(
            "== links\n    bridge hello_timer    1.00 gc_timer   12.01 stp_state 0\n",
            vec![],
        );
        assert_eq!(a.diff(&b), "");
        assert_eq!(a.section("links"), ["bridge stp_state 0".to_string()]);
    }

    #[test]
    fn carrier_detection_is_ignored() {
        let a = Snapshot::parse(
            "== links\n3: v1@if2: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state UNKNOWN mode DEFAULT\n\
             == routes\n10.0.0.0/24 dev v1 proto kernel scope link src 10.0.0.1 \n",
            vec![],
        );
        let b = Snapshot::parse(
            "== links\n3: v1@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN mode DEFAULT\n\
             == routes\n10.0.0.0/24 dev v1 proto kernel scope link src 10.0.0.1 linkdown \n",
            vec![],
        );
        assert_eq!(a.diff(&b), "");
        let c = Snapshot::parse(
            "== links\n3: v1@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN mode DEFAULT\n",
            vec![],
        );
        assert_ne!(a.diff(&c), "", "UP itself is no carrier detection");
    }

    #[test]
    fn iptables_counters_and_comments_are_ignored() {
        let a = Snapshot::parse(
            "== iptables\n# Generated at 1\n:FORWARD DROP [1:2]\n",
            vec![],
        );
        let b = Snapshot::parse(
            "== iptables\n# Generated at 2\n:FORWARD DROP [9:99]\n",
            vec![],
        );
        assert_eq!(a.diff(&b), "");
        assert_eq!(a.section("iptables"), [":FORWARD DROP".to_string()]);
    }
}
