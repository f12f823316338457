//! The network configuration a runtime gives on stdin: the keys nsnet
//! reads, each checked for its type and value before anything is done, so
//! a bad configuration gets one clear error (code 7, or 1 for a version
//! nsnet does not speak, 6 for what is not JSON) and changes nothing.
//! Keys nsnet does not know are left alone, as the specification asks.

use super::env::{is_plain_name, Attachment};
use super::error::{code, CniError};
use super::record;
use super::result::{CniResult, Dns};
use super::version::Version;
use crate::name::IfName;
use crate::port::Proto;
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::path::PathBuf;

/// The longest network name nsnet takes: it travels in the alias of the
/// host end, beside the container ID and the interface name (see
/// [`super::env::MAX_CONTAINER_ID`]).
pub const MAX_NETWORK_NAME: usize = 100;

/// A port of the host forwarded to the container (`portMappings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
    /// Only connections to this host address; any when absent.
    pub host_ip: Option<IpAddr>,
}

/// One plugin configuration, as the runtime derived it for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub version: Version,
    pub name: String,
    /// Attach to this bridge (made when missing); point-to-point without.
    pub bridge: Option<IfName>,
    pub ip_masq: bool,
    pub mtu: Option<u32>,
    /// Where the records of attachments are kept (`"dataDir"`).
    pub data_dir: PathBuf,
    /// The IPAM plugin's type: the program to delegate addresses to.
    pub ipam: String,
    pub dns: Dns,
    /// `runtimeConfig.portMappings`.
    pub port_mappings: Vec<PortMapping>,
    pub prev_result: Option<CniResult>,
    /// GC: the attachments still in use (`cni.dev/valid-attachments`, or
    /// the older `cni.dev/attachments`).
    pub valid_attachments: Vec<Attachment>,
    /// The configuration exactly as given, for delegated plugins.
    pub raw: Vec<u8>,
}

/// A JSON value in words, for an error: `the string "yes"`, `a number`.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// `"KEY" must be WANTED, not WHAT IT IS`.
fn wrong(key: &str, wanted: &str, value: &Value) -> CniError {
    CniError::config(format!("{key:?} must be {wanted}, not {}", describe(value)))
}

fn string<'a>(key: &str, value: &'a Value) -> Result<&'a str, CniError> {
    value.as_str().ok_or_else(|| wrong(key, "a string", value))
}

fn strings(key: &str, value: &Value) -> Result<Vec<String>, CniError> {
    let list = value
        .as_array()
        .ok_or_else(|| wrong(key, "a list of strings", value))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| string(&format!("{key}[{i}]"), v).map(str::to_string))
        .collect()
}

fn object<'a>(key: &str, value: &'a Value) -> Result<&'a Map<String, Value>, CniError> {
    value
        .as_object()
        .ok_or_else(|| wrong(key, "an object", value))
}

fn port(key: &str, value: &Value) -> Result<u16, CniError> {
    value
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| wrong(key, "a port number from 1 to 65535", value))
}

/// Reads the configuration: JSON, then each known key.
pub fn parse(raw: &[u8]) -> Result<Config, CniError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        CniError::new(
            code::DECODE_FAILURE,
            format!("cannot decode the network configuration: {e}"),
        )
    })?;
    let top = value.as_object().ok_or_else(|| {
        CniError::config(format!(
            "it must be a JSON object, not {}",
            describe(&value)
        ))
    })?;
    let get = |key: &str| top.get(key).filter(|v| !v.is_null());
    let version = match get("cniVersion") {
        None => return Err(CniError::config("\"cniVersion\" is missing")),
        Some(v) => Version::parse(string("cniVersion", v)?)?,
    };
    let name = match get("name") {
        None => return Err(CniError::config("\"name\" is missing")),
        Some(v) => string("name", v)?.to_string(),
    };
    if !is_plain_name(&name) || name.len() > MAX_NETWORK_NAME {
        return Err(CniError::config(format!(
            "\"name\" {name:?} is not a network name (a letter or digit, then \
             letters, digits, '_', '.' or '-'; at most {MAX_NETWORK_NAME} bytes)"
        )));
    }
    if let Some(v) = get("type") {
        string("type", v)?;
    }
    let bridge = match get("bridge") {
        None => None,
        Some(v) => Some(
            string("bridge", v)?
                .parse::<IfName>()
                .map_err(|e| CniError::config(format!("\"bridge\": {}", e.message())))?,
        ),
    };
    let ip_masq = match get("ipMasq") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| wrong("ipMasq", "true or false", v))?,
    };
    let mtu = match get("mtu") {
        None => None,
        Some(v) => {
            let mtu = v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (crate::link::MIN_MTU..=crate::link::MAX_MTU).contains(n))
                .ok_or_else(|| {
                    wrong(
                        "mtu",
                        &format!(
                            "a number from {} to {}",
                            crate::link::MIN_MTU,
                            crate::link::MAX_MTU
                        ),
                        v,
                    )
                })?;
            Some(mtu)
        }
    };
    let data_dir = match get("dataDir") {
        None => PathBuf::from(record::DEFAULT_DIR),
        Some(v) => {
            let dir = string("dataDir", v)?;
            if !dir.starts_with('/') {
                return Err(CniError::config(format!(
                    "\"dataDir\" {dir:?} is not an absolute path"
                )));
            }
            PathBuf::from(dir)
        }
    };
    let ipam = match get("ipam") {
        None => {
            return Err(CniError::config(
                "\"ipam\" is missing (nsnet delegates addresses to an IPAM plugin, \
                 e.g. \"ipam\": {\"type\": \"host-local\", ...})",
            ))
        }
        Some(v) => {
            let ipam = object("ipam", v)?;
            let kind = match ipam.get("type") {
                None => return Err(CniError::config("\"ipam\" has no \"type\"")),
                Some(t) => string("ipam.type", t)?,
            };
            if kind.is_empty() || kind.contains(['/', '\\']) || kind == "." || kind == ".." {
                return Err(CniError::config(format!(
                    "\"ipam.type\" {kind:?} is not a plugin name"
                )));
            }
            kind.to_string()
        }
    };
    let dns = match get("dns") {
        None => Dns::default(),
        Some(v) => parse_dns(object("dns", v)?)?,
    };
    let port_mappings = match get("runtimeConfig") {
        None => Vec::new(),
        Some(v) => match object("runtimeConfig", v)?.get("portMappings") {
            None | Some(Value::Null) => Vec::new(),
            Some(list) => parse_port_mappings(list)?,
        },
    };
    let prev_result = match get("prevResult") {
        None => None,
        Some(v) => Some(
            CniResult::from_value(v)
                .map_err(|e| CniError::config(format!("\"prevResult\" cannot be read: {e}")))?,
        ),
    };
    let valid_attachments = match get("cni.dev/valid-attachments")
        .map(|v| ("cni.dev/valid-attachments", v))
        .or_else(|| get("cni.dev/attachments").map(|v| ("cni.dev/attachments", v)))
    {
        None => Vec::new(),
        Some((key, v)) => parse_attachments(key, v)?,
    };
    Ok(Config {
        version,
        name,
        bridge,
        ip_masq,
        mtu,
        data_dir,
        ipam,
        dns,
        port_mappings,
        prev_result,
        valid_attachments,
        raw: raw.to_vec(),
    })
}

/// The version of a configuration that may be wrong in every other way:
/// errors are written in it when it is known.
pub fn version_of(raw: &[u8]) -> Option<Version> {
    let value: Value = serde_json::from_slice(raw).ok()?;
    Version::parse(value.get("cniVersion")?.as_str()?).ok()
}

fn parse_dns(dns: &Map<String, Value>) -> Result<Dns, CniError> {
    let list = |key: &str| -> Result<Vec<String>, CniError> {
        match dns.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => strings(&format!("dns.{key}"), v),
        }
    };
    let nameservers = list("nameservers")?;
    if let Some(bad) = nameservers.iter().find(|n| n.parse::<IpAddr>().is_err()) {
        return Err(CniError::config(format!(
            "\"dns.nameservers\": {bad:?} is not an IP address"
        )));
    }
    let domain = match dns.get("domain") {
        None | Some(Value::Null) => None,
        Some(v) => Some(string("dns.domain", v)?.to_string()),
    };
    Ok(Dns {
        nameservers,
        domain,
        search: list("search")?,
        options: list("options")?,
    })
}

fn parse_port_mappings(list: &Value) -> Result<Vec<PortMapping>, CniError> {
    let key = "runtimeConfig.portMappings";
    let list = list
        .as_array()
        .ok_or_else(|| wrong(key, "a list of port mappings", list))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let at = format!("{key}[{i}]");
            let m = object(&at, v)?;
            let field = |name: &str| m.get(name).filter(|v| !v.is_null());
            let required = |name: &str| {
                field(name).ok_or_else(|| CniError::config(format!("\"{at}\" has no {name:?}")))
            };
            let host_port = port(&format!("{at}.hostPort"), required("hostPort")?)?;
            let container_port = port(&format!("{at}.containerPort"), required("containerPort")?)?;
            let proto = match field("protocol") {
                None => Proto::Tcp,
                Some(p) => match string(&format!("{at}.protocol"), p)?.to_ascii_lowercase().as_str() {
                    "" | "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    other => {
                        return Err(CniError::new(
                            code::UNSUPPORTED_FIELD,
                            format!("unsupported field: \"{at}.protocol\" is {other:?} (nsnet publishes tcp and udp)"),
                        ))
                    }
                },
            };
            let host_ip = match field("hostIP") {
                None => None,
                Some(h) => match string(&format!("{at}.hostIP"), h)? {
                    "" => None,
                    text => Some(text.parse::<IpAddr>().map_err(|_| {
                        CniError::config(format!("\"{at}.hostIP\" {text:?} is not an IP address"))
                    })?),
                },
            };
            Ok(PortMapping {
                host_port,
                container_port,
                proto,
                host_ip,
            })
        })
        .collect()
}

fn parse_attachments(key: &str, list: &Value) -> Result<Vec<Attachment>, CniError> {
    let list = list
        .as_array()
        .ok_or_else(|| wrong(key, "a list of attachments", list))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let at = format!("{key}[{i}]");
            let a = object(&at, v)?;
            let field = |name: &str| -> Result<&str, CniError> {
                match a.get(name) {
                    None => Err(CniError::config(format!("\"{at}\" has no {name:?}"))),
                    Some(v) => string(&format!("{at}.{name}"), v),
                }
            };
            let container = field("containerID")?
                .parse()
                .map_err(|why| CniError::config(format!("\"{at}.containerID\" is {why}")))?;
            let ifname = field("ifname")?.parse().map_err(|e: crate::Error| {
                CniError::config(format!("\"{at}.ifname\": {}", e.message()))
            })?;
            Ok(Attachment { container, ifname })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "cniVersion": "1.0.0",
            "name": "nsnet",
            "type": "nsnet",
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/24"}]]}
        })
    }

    fn with(key: &str, value: Value) -> Result<Config, CniError> {
        let mut v = base();
        v[key] = value;
        parse(v.to_string().as_bytes())
    }

    fn refusal(key: &str, value: Value) -> (u32, String) {
        let e = with(key, value).unwrap_err();
        (e.code, e.msg)
    }

    #[test]
    fn the_smallest_configuration_is_point_to_point_without_masquerade() {
        let c = parse(base().to_string().as_bytes()).unwrap();
        assert_eq!(c.version, Version::V1_0_0);
        assert_eq!(c.name, "nsnet");
        assert_eq!(c.bridge, None);
        assert!(!c.ip_masq);
        assert_eq!(c.ipam, "host-local");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/cni/nsnet"));
        assert!(c.port_mappings.is_empty() && c.prev_result.is_none());
        assert_eq!(c.raw, base().to_string().into_bytes(), "kept byte for byte");
    }

    #[test]
    fn everything_podman_sends_is_read() {
        let mut v = base();
        v["bridge"] = json!("nsbr0");
        v["ipMasq"] = json!(true);
        v["mtu"] = json!(1400);
        v["isGateway"] = json!(true);
        v["capabilities"] = json!({"portMappings": true});
        v["dns"] = json!({"nameservers": ["10.88.0.1"], "search": ["dns.podman"]});
        v["runtimeConfig"] = json!({"portMappings": [
            {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
            {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}
        ]});
        v["prevResult"] = json!({"cniVersion": "1.0.0", "ips": [{"address": "10.88.0.2/24"}]});
        let c = parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.bridge.unwrap().as_str(), "nsbr0");
        assert!(c.ip_masq);
        assert_eq!(c.mtu, Some(1400));
        assert_eq!(c.dns.nameservers, ["10.88.0.1"]);
        assert_eq!(
            c.port_mappings,
            [
                PortMapping {
                    host_port: 8080,
                    container_port: 80,
                    proto: Proto::Tcp,
                    host_ip: None
                },
                PortMapping {
                    host_port: 5353,
                    container_port: 53,
                    proto: Proto::Udp,
                    host_ip: Some("127.0.0.1".parse().unwrap())
                },
            ]
        );
        assert_eq!(c.prev_result.unwrap().ips.len(), 1);
    }

    #[test]
    fn gc_reads_both_names_of_the_valid_attachments() {
        for key in ["cni.dev/valid-attachments", "cni.dev/attachments"] {
            let c = with(key, json!([{"containerID": "c1", "ifname": "eth0"}])).unwrap();
            assert_eq!(c.valid_attachments.len(), 1, "{key}");
            assert_eq!(c.valid_attachments[0].to_string(), "c1/eth0");
        }
        let mut v = base();
        v["cni.dev/valid-attachments"] = json!([]);
        v["cni.dev/attachments"] = json!([{"containerID": "c1", "ifname": "eth0"}]);
        let c = parse(v.to_string().as_bytes()).unwrap();
        assert!(c.valid_attachments.is_empty(), "the newer name wins");
        let (code, msg) = refusal(
            "cni.dev/valid-attachments",
            json!([{"containerID": "c1", "ifname": "a b"}]),
        );
        assert_eq!(code, code::INVALID_CONFIG);
        assert!(
            msg.contains("\"cni.dev/valid-attachments[0].ifname\""),
            "{msg}"
        );
    }

    #[test]
    fn bad_configurations_are_named_clearly() {
        let config = code::INVALID_CONFIG;
        assert_eq!(
            refusal("ipMasq", json!("yes")),
            (config, "invalid network configuration: \"ipMasq\" must be true or false, not the string \"yes\"".into())
        );
        assert_eq!(
            refusal("bridge", json!("averyveryverylongbridge")),
            (config, "invalid network configuration: \"bridge\": invalid interface name 'averyveryverylongbridge': longer than 15 bytes".into())
        );
        assert_eq!(
            refusal("bridge", json!(5)),
            (
                config,
                "invalid network configuration: \"bridge\" must be a string, not the number 5"
                    .into()
            )
        );
        assert_eq!(
            refusal("mtu", json!(40)),
            (config, "invalid network configuration: \"mtu\" must be a number from 68 to 65535, not the number 40".into())
        );
        assert_eq!(refusal("ipam", json!("host-local")).1,
            "invalid network configuration: \"ipam\" must be an object, not the string \"host-local\"");
        assert!(refusal("ipam", json!({"type": "../x"}))
            .1
            .contains("not a plugin name"));
        assert!(refusal("ipam", json!({}))
            .1
            .contains("\"ipam\" has no \"type\""));
        assert!(refusal("name", json!("a/b"))
            .1
            .contains("is not a network name"));
        assert!(refusal("dns", json!({"nameservers": ["x"]}))
            .1
            .contains("\"x\" is not an IP address"));
        assert_eq!(
            refusal("dataDir", json!("run/x")).1,
            "invalid network configuration: \"dataDir\" \"run/x\" is not an absolute path"
        );
        assert!(refusal("prevResult", json!({"ips": 3}))
            .1
            .contains("\"prevResult\" cannot be read"));
        let ports = |m: Value| refusal("runtimeConfig", json!({"portMappings": [m]}));
        assert!(ports(json!({"hostPort": 0, "containerPort": 80})).1
            .contains("\"runtimeConfig.portMappings[0].hostPort\" must be a port number from 1 to 65535, not the number 0"));
        assert!(ports(json!({"hostPort": 80}))
            .1
            .contains("has no \"containerPort\""));
        assert_eq!(
            ports(json!({"hostPort": 80, "containerPort": 80, "protocol": "sctp"})).0,
            code::UNSUPPORTED_FIELD
        );
        assert!(
            ports(json!({"hostPort": 80, "containerPort": 80, "hostIP": "x"}))
                .1
                .contains("is not an IP address")
        );
    }

    #[test]
    fn missing_keys_versions_and_broken_json() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("ipam");
        let e = parse(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.code, code::INVALID_CONFIG);
        assert!(
            e.msg
                .starts_with("invalid network configuration: \"ipam\" is missing"),
            "{}",
            e.msg
        );
        let e = with("cniVersion", json!("0.3.1")).unwrap_err();
        assert_eq!(e.code, code::INCOMPATIBLE_VERSION);
        let e = parse(b"{\"cniVersion\": ").unwrap_err();
        assert_eq!(e.code, code::DECODE_FAILURE);
        assert!(
            e.msg
                .starts_with("cannot decode the network configuration: "),
            "{}",
            e.msg
        );
        assert_eq!(parse(b"[]").unwrap_err().code, code::INVALID_CONFIG);
        assert_eq!(
            version_of(b"{\"cniVersion\": \"0.4.0\", \"mtu\": \"x\"}"),
            Some(Version::V0_4_0)
        );
        assert_eq!(version_of(b"nonsense"), None);
    }
}
