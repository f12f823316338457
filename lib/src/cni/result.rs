//! The CNI result: interfaces, addresses, routes and DNS, read from any
//! version nsnet speaks (an IPAM plugin's answer, a `prevResult`) and
//! written in the version the runtime asked for.

use super::version::Version;
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

/// One interface an attachment made or uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    pub name: String,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub mtu: Option<u32>,
    /// The container's namespace; absent for a host interface.
    #[serde(default)]
    pub sandbox: Option<String>,
    #[serde(default)]
    pub socket_path: Option<String>,
    #[serde(default, rename = "pciID")]
    pub pci_id: Option<String>,
}

/// An address given to an interface (its index in `interfaces`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IpConfig {
    /// The address with its prefix length, as `10.0.0.2/24`.
    pub address: IpNet,
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    #[serde(default)]
    pub interface: Option<usize>,
}

/// A route inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Route {
    pub dst: IpNet,
    #[serde(default)]
    pub gw: Option<IpAddr>,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub advmss: Option<u32>,
    #[serde(default)]
    pub priority: Option<u32>,
    #[serde(default)]
    pub table: Option<u32>,
    #[serde(default)]
    pub scope: Option<u32>,
}

/// DNS settings for the container, passed on to the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Dns {
    #[serde(default)]
    pub nameservers: Vec<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub search: Vec<String>,
    #[serde(default)]
    pub options: Vec<String>,
}

impl Dns {
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_none()
            && self.search.is_empty()
            && self.options.is_empty()
    }

    fn to_json(&self) -> Value {
        let mut dns = Map::new();
        if !self.nameservers.is_empty() {
            dns.insert("nameservers".into(), json!(self.nameservers));
        }
        if let Some(domain) = &self.domain {
            dns.insert("domain".into(), json!(domain));
        }
        if !self.search.is_empty() {
            dns.insert("search".into(), json!(self.search));
        }
        if !self.options.is_empty() {
            dns.insert("options".into(), json!(self.options));
        }
        Value::Object(dns)
    }
}

/// A whole result (an IPAM plugin's has no interfaces).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CniResult {
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub dns: Dns,
}

/// Inserts `key: value` when there is a value.
fn put<T: serde::Serialize>(object: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        object.insert(key.into(), json!(value));
    }
}

impl CniResult {
    /// Reads a result of any version nsnet speaks; fields of other
    /// versions (`version` in 0.4.0's addresses) are ignored.
    pub fn from_value(value: &Value) -> Result<CniResult, String> {
        CniResult::deserialize(value).map_err(|e| e.to_string())
    }

    /// The result as version `v` writes it: 0.4.0 numbers the address
    /// family of each address; 1.1.0 alone has MTUs, sockets, PCI IDs and
    /// route attributes.
    pub fn to_json(&self, v: Version) -> Value {
        let latest = v >= Version::V1_1_0;
        let mut object = Map::new();
        object.insert("cniVersion".into(), json!(v.as_str()));
        if !self.interfaces.is_empty() {
            let list: Vec<Value> = self
                .interfaces
                .iter()
                .map(|i| {
                    let mut o = Map::new();
                    o.insert("name".into(), json!(i.name));
                    put(&mut o, "mac", i.mac.as_ref());
                    put(
                        &mut o,
                        "sandbox",
                        i.sandbox.as_ref().filter(|s| !s.is_empty()),
                    );
                    if latest {
                        put(&mut o, "mtu", i.mtu);
                        put(&mut o, "socketPath", i.socket_path.as_ref());
                        put(&mut o, "pciID", i.pci_id.as_ref());
                    }
                    Value::Object(o)
                })
                .collect();
            object.insert("interfaces".into(), Value::Array(list));
        }
        if !self.ips.is_empty() {
            let list: Vec<Value> = self
                .ips
                .iter()
                .map(|ip| {
                    let mut o = Map::new();
                    if v == Version::V0_4_0 {
                        let family = if ip.address.addr().is_ipv4() {
                            "4"
                        } else {
                            "6"
                        };
                        o.insert("version".into(), json!(family));
                    }
                    put(&mut o, "interface", ip.interface);
                    o.insert("address".into(), json!(ip.address.to_string()));
                    put(&mut o, "gateway", ip.gateway.map(|g| g.to_string()));
                    Value::Object(o)
                })
                .collect();
            object.insert("ips".into(), Value::Array(list));
        }
        if !self.routes.is_empty() {
            let list: Vec<Value> = self
                .routes
                .iter()
                .map(|r| {
                    let mut o = Map::new();
                    o.insert("dst".into(), json!(r.dst.to_string()));
                    put(&mut o, "gw", r.gw.map(|g| g.to_string()));
                    if latest {
                        put(&mut o, "mtu", r.mtu);
                        put(&mut o, "advmss", r.advmss);
                        put(&mut o, "priority", r.priority);
                        put(&mut o, "table", r.table);
                        put(&mut o, "scope", r.scope);
                    }
                    Value::Object(o)
                })
                .collect();
            object.insert("routes".into(), Value::Array(list));
        }
        object.insert("dns".into(), self.dns.to_json());
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Debian's host-local answers with cniVersion 0.4.0.
    const HOST_LOCAL_040: &str = r#"{
        "cniVersion": "0.4.0",
        "ips": [
            {"version": "4", "address": "10.66.0.2/24", "gateway": "10.66.0.1"},
            {"version": "6", "address": "fd00:66::2/64", "gateway": "fd00:66::1"}
        ],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dns": {}
    }"#;

    fn parse(text: &str) -> CniResult {
        CniResult::from_value(&serde_json::from_str(text).unwrap()).unwrap()
    }

    fn attached() -> CniResult {
        let mut r = parse(HOST_LOCAL_040);
        r.interfaces = vec![
            Interface {
                name: "nsc0123456789ab".into(),
                mac: Some("02:00:00:00:00:01".into()),
                mtu: Some(1500),
                ..Interface::default()
            },
            Interface {
                name: "eth0".into(),
                mac: Some("02:00:00:00:00:02".into()),
                mtu: Some(1500),
                sandbox: Some("/run/netns/c1".into()),
                ..Interface::default()
            },
        ];
        for ip in &mut r.ips {
            ip.interface = Some(1);
        }
        r.routes[0].priority = Some(10);
        r
    }

    #[test]
    fn ipam_answers_of_each_version_read_alike() {
        let old = parse(HOST_LOCAL_040);
        let new = parse(
            r#"{"cniVersion":"1.0.0","ips":[{"address":"10.66.0.2/24","gateway":"10.66.0.1"},
            {"address":"fd00:66::2/64","gateway":"fd00:66::1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#,
        );
        assert_eq!(old, new);
        assert_eq!(old.ips[0].address.to_string(), "10.66.0.2/24");
        assert!(old.interfaces.is_empty());
        assert!(CniResult::from_value(&json!({"ips": [{"address": "10.0.0.300/24"}]})).is_err());
        assert!(CniResult::from_value(&json!({"ips": "x"})).is_err());
    }

    #[test]
    fn version_0_4_0_numbers_the_families_and_knows_no_mtu() {
        assert_eq!(
            attached().to_json(Version::V0_4_0),
            json!({
                "cniVersion": "0.4.0",
                "interfaces": [
                    {"name": "nsc0123456789ab", "mac": "02:00:00:00:00:01"},
                    {"name": "eth0", "mac": "02:00:00:00:00:02", "sandbox": "/run/netns/c1"}
                ],
                "ips": [
                    {"version": "4", "interface": 1, "address": "10.66.0.2/24", "gateway": "10.66.0.1"},
                    {"version": "6", "interface": 1, "address": "fd00:66::2/64", "gateway": "fd00:66::1"}
                ],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dns": {}
            })
        );
    }

    #[test]
    fn version_1_0_0_drops_the_family_and_1_1_0_adds_mtus_and_attributes() {
        let v1 = attached().to_json(Version::V1_0_0);
        assert_eq!(
            v1["ips"][0],
            json!({"interface": 1, "address": "10.66.0.2/24", "gateway": "10.66.0.1"})
        );
        assert_eq!(v1["interfaces"][1].get("mtu"), None);
        assert_eq!(v1["routes"][0], json!({"dst": "0.0.0.0/0"}));
        let v11 = attached().to_json(Version::V1_1_0);
        assert_eq!(v11["cniVersion"], "1.1.0");
        assert_eq!(v11["interfaces"][1]["mtu"], 1500);
        assert_eq!(
            v11["routes"][0],
            json!({"dst": "0.0.0.0/0", "priority": 10})
        );
        // What is written reads back the same.
        for v in Version::ALL {
            let back = CniResult::from_value(&attached().to_json(v)).unwrap();
            assert_eq!(back.ips, attached().ips, "{v}");
        }
    }

    #[test]
    fn dns_keeps_only_what_is_set() {
        let dns = Dns {
            nameservers: vec!["10.0.0.1".into()],
            search: vec!["example.test".into()],
            ..Dns::default()
        };
        assert_eq!(
            dns.to_json(),
            json!({"nameservers": ["10.0.0.1"], "search": ["example.test"]})
        );
        assert!(Dns::default().is_empty());
    }
}
