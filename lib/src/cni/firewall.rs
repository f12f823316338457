//! The natctl rules an attachment holds, made and let go through natctl's
//! library with the attachment as their owner: with `ipMasq`, the
//! masquerade of each subnet the container has an address in (one rule set
//! per subnet, however many containers hold it; it goes with the last),
//! and each of `runtimeConfig.portMappings` published to the container's
//! address of its family.

use super::attach::Allotted;
use super::config::{Config, PortMapping};
use super::error::CniError;
use crate::error::Error;
use crate::nat::{self, Choice, Leaving, Masquerade, Owner, PortKey, Publish, Rule};
use crate::port::{Dest, PortRange};
use crate::run::Mode;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The rules an attachment with addresses `ips` holds under `config`.
/// A mapping that names a host address of a family the container has no
/// address of is refused.
pub fn rules(config: &Config, ips: &[Allotted]) -> Result<Vec<Rule>, CniError> {
    let mut rules = Vec::new();
    if config.ip_masq {
        let subnets: BTreeSet<_> = ips.iter().map(|a| a.addr.subnet()).collect();
        rules.extend(
            subnets
                .into_iter()
                .map(|subnet| Rule::Masquerade(Masquerade { subnet, out: None })),
        );
    }
    for m in &config.port_mappings {
        let published = publishes(m, ips)?;
        rules.extend(published.into_iter().map(Rule::Publish));
    }
    Ok(rules)
}

/// One mapping to each of the container's families it may reach: every
/// family for a mapping on every host address, the host address's own
/// otherwise (`0.0.0.0` and `::` stand for every address of theirs).
fn publishes(m: &PortMapping, ips: &[Allotted]) -> Result<Vec<Publish>, CniError> {
    let host = m.host_ip.filter(|h| !h.is_unspecified());
    let family = m.host_ip.map(|h| h.is_ipv4());
    let mut dests: Vec<IpAddr> = Vec::new();
    for a in ips {
        let addr = a.addr.addr();
        let fits = family.map_or(true, |v4| v4 == addr.is_ipv4());
        if fits && !dests.iter().any(|d| d.is_ipv4() == addr.is_ipv4()) {
            dests.push(addr);
        }
    }
    if dests.is_empty() {
        return Err(CniError::config(format!(
            "cannot publish port {} on {}: the container has no address of that family",
            m.host_port,
            m.host_ip.map_or("any".to_string(), |h| h.to_string())
        )));
    }
    dests
        .into_iter()
        .map(|addr| {
            let key = PortKey {
                proto: m.proto,
                host,
                ports: PortRange::single(m.host_port).expect("checked to be 1-65535"),
            };
            let dest = Dest {
                addr,
                ports: PortRange::single(m.container_port).expect("checked to be 1-65535"),
            };
            Publish::new(key, dest).map_err(CniError::from)
        })
        .collect()
}

/// Adds `owner` to each of `rules` (making those that are not there yet).
/// All or nothing: on a failure, lets go of those it held.
pub fn hold(rules: &[Rule], owner: Owner) -> Result<(), Error> {
    for (i, rule) in rules.iter().enumerate() {
        if let Err(e) = nat::add(rule, Some(owner), Choice::Auto, Mode::Run) {
            return Err(match release(&rules[..i], owner) {
                Ok(()) => e,
                Err(undo) => Error::all([e, undo.context("undoing it")]).expect_err("two errors"),
            });
        }
    }
    Ok(())
}

/// Takes `owner` off each of `rules`; a rule goes with its last owner.
/// What is already gone, or not held by `owner`, is no failure.
pub fn release(rules: &[Rule], owner: Owner) -> Result<(), Error> {
    if rules.is_empty() {
        return Ok(());
    }
    let keys: Vec<_> = rules.iter().map(Rule::key).collect();
    nat::remove(&keys, Some(Leaving::Owner(owner)), true, Mode::Run).map(drop)
}

/// The first of `rules` that natctl does not hold for `owner`, in words.
pub fn missing(rules: &[Rule], owner: Owner) -> Result<Option<String>, Error> {
    if rules.is_empty() {
        return Ok(None);
    }
    let entries = nat::list()?;
    Ok(rules.iter().find_map(|rule| {
        let held = entries
            .iter()
            .any(|e| &e.rule == rule && e.owners.contains(&owner));
        (!held).then(|| match rule {
            Rule::Masquerade(m) => format!("{} is not masqueraded for it", m.subnet),
            Rule::Publish(p) => format!(
                "{} {} is not published to {} for it",
                p.key.proto, p.key.ports, p.dest
            ),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: serde_json::Value) -> Config {
        let mut v = serde_json::json!({
            "cniVersion": "1.0.0", "name": "n", "type": "nsnet",
            "ipam": {"type": "host-local"}
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        super::super::config::parse(v.to_string().as_bytes()).unwrap()
    }

    fn ips(list: &[&str]) -> Vec<Allotted> {
        list.iter()
            .map(|a| Allotted {
                addr: a.parse().unwrap(),
                gateway: None,
            })
            .collect()
    }

    fn lines(rules: &[Rule]) -> Vec<String> {
        rules.iter().map(Rule::to_string).collect()
    }

    #[test]
    fn one_masquerade_per_subnet_and_each_mapping_to_its_family() {
        let c = config(serde_json::json!({
            "ipMasq": true,
            "runtimeConfig": {"portMappings": [
                {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "198.51.100.2"},
                {"hostPort": 8443, "containerPort": 443, "hostIP": "::"}
            ]}
        }));
        let dual = ips(&["10.77.0.2/24", "fd00:77::2/64", "10.77.0.3/24"]);
        assert_eq!(
            lines(&rules(&c, &dual).unwrap()),
            [
                "10.77.0.0/24 masquerade out=any",
                "fd00:77::/64 masquerade out=any",
                "publish tcp 8080 -> 10.77.0.2:80 host=any",
                "publish tcp 8080 -> [fd00:77::2]:80 host=any",
                "publish udp 5353 -> 10.77.0.2:53 host=198.51.100.2",
                "publish tcp 8443 -> [fd00:77::2]:443 host=any",
            ]
        );
        let e = rules(&c, &ips(&["10.77.0.2/24"])).unwrap_err();
        assert_eq!(
            e.msg,
            "invalid network configuration: cannot publish port 8443 on ::: the container has no address of that family"
        );
        assert!(rules(&config(serde_json::json!({})), &dual)
            .unwrap()
            .is_empty());
    }
}
