//! The CNI plugin in the lab, called exactly as a runtime calls it: the
//! `CNI_*` variables, the configuration on stdin, the result on stdout,
//! with Debian's host-local for addresses (and loopback, portmap, tuning
//! around it in a chain), for each version it speaks.

use nsnet_lab::{lab, Lab, Out, SERVICE, UPLINK};
use serde_json::{json, Value};

const VERSIONS: [&str; 3] = ["0.4.0", "1.0.0", "1.1.0"];
/// Debian's containernetworking-plugins.
const PLUGINS: &str = "/usr/lib/cni";
/// host-local's reservations, in the lab's private /run.
const IPAM_DIR: &str = "/run/cni-ipam";
/// nsnet's records of its attachments, there too.
const RECORDS: &str = "/run/cni-nsnet";

/// A network configuration: nsnet on 10.77.0.0/24 (and whatever `extra`
/// adds or replaces), with a default route.
fn conf(version: &str, extra: Value) -> Value {
    let mut c = json!({
        "cniVersion": version,
        "name": "labnet",
        "type": "nsnet",
        "dataDir": RECORDS,
        "ipam": {
            "type": "host-local",
            "dataDir": IPAM_DIR,
            "ranges": [[{"subnet": "10.77.0.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}]
        }
    });
    for (k, v) in extra.as_object().expect("an object").iter() {
        c[k] = v.clone();
    }
    c
}

/// Runs `plugin` (nsnet from the build, or one of Debian's by name) as a
/// runtime would: `container` is `(id, ifname, netns name)`.
fn call(
    lab: &Lab,
    plugin: &str,
    command: &str,
    conf: &Value,
    container: Option<(&str, &str, &str)>,
) -> Out {
    let path = if plugin == "nsnet" {
        nsnet_lab::bin("nsnet").display().to_string()
    } else {
        format!("{PLUGINS}/{plugin}")
    };
    let mut argv = vec![
        "env".to_string(),
        format!("CNI_COMMAND={command}"),
        format!("CNI_PATH={}:{PLUGINS}", nsnet_lab::bin_dir().display()),
    ];
    if let Some((id, ifname, netns)) = container {
        argv.push(format!("CNI_CONTAINERID={id}"));
        argv.push(format!("CNI_IFNAME={ifname}"));
        if !netns.is_empty() {
            argv.push(format!("CNI_NETNS=/run/netns/{netns}"));
        }
        argv.push("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=lab".into());
    }
    argv.push(path);
    lab.run_with_stdin(&argv, &conf.to_string())
}

fn nsnet(lab: &Lab, command: &str, conf: &Value, container: (&str, &str, &str)) -> Out {
    call(lab, "nsnet", command, conf, Some(container))
}

/// ADD, which must succeed: its result.
fn add(lab: &Lab, conf: &Value, container: (&str, &str, &str)) -> Value {
    let out = nsnet(lab, "ADD", conf, container).expect_ok(&format!("ADD {container:?}"));
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("ADD printed no JSON ({e}): {}", out.stdout))
}

/// A failure, with the error JSON it printed.
fn refused(out: Out) -> Value {
    assert_eq!(
        out.code(),
        1,
        "expected a failure: {}{}",
        out.stdout,
        out.stderr
    );
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no error JSON ({e}): {}", out.stdout))
}

/// `conf` with `prevResult`, as DEL and CHECK get it.
fn with_prev(conf: &Value, result: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = result.clone();
    c
}

/// `conf` with a range of one address, 10.77.0.2: whoever holds it, the
/// next ADD fails for want of an address.
fn one_address(conf: &mut Value) {
    conf["ipam"]["ranges"] =
        json!([[{"subnet": "10.77.0.0/24", "rangeStart": "10.77.0.2", "rangeEnd": "10.77.0.2"}]]);
}

/// A shell function, `cni COMMAND ID`, that calls the plugin as a runtime
/// does with the configuration in /run/net.json, the container's
/// interface eth0 in /run/netns/ID, and `path` as CNI_PATH; to put before
/// a script.
fn cni_function(path: &str) -> String {
    format!(
        "cni() {{ CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_IFNAME=eth0 CNI_NETNS=/run/netns/$2 \
           CNI_PATH={path} {} < /run/net.json; }}; ",
        nsnet_lab::bin("nsnet").display()
    )
}

/// The lab, ready for named namespaces: the first `ip netns add` makes
/// /run/netns a mount point of its own, which a snapshot would see.
fn ready(lab: &Lab) {
    lab.sh_ok("ip netns add nsnet-prime && ip netns del nsnet-prime");
}

fn netns(lab: &Lab, name: &str) {
    lab.sh_ok(&format!("ip netns add {name}"));
}

fn in_ns(lab: &Lab, name: &str, script: &str) -> Out {
    lab.sh(&format!("ip netns exec {name} sh -c '{script}'"))
}

/// host-local's reservations left (its lock and bookkeeping files aside).
fn addresses(lab: &Lab) -> String {
    lab.sh_ok(&format!(
        "find {IPAM_DIR} -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null | sort"
    ))
}

/// nsnet's records left: the files, and the folders that held them.
fn records(lab: &Lab) -> String {
    lab.sh_ok(&format!("find {RECORDS} 2>/dev/null | sort"))
}

/// Every reservation and record left.
fn reservations(lab: &Lab) -> String {
    addresses(lab) + &records(lab)
}

/// The plugin's page is made like every tool's (tools/tests/cli.rs checks
/// it is current and lints); its help points there.
#[test]
fn help_points_to_the_man_page() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_nsnet"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("see nsnet(1)"), "{help}");
    assert!(help.contains("Usage: CNI_COMMAND="), "{help}");
}

#[test]
fn version_answers_in_the_version_asked() {
    let lab = lab!();
    for v in VERSIONS {
        let out =
            call(&lab, "nsnet", "VERSION", &json!({"cniVersion": v}), None).expect_ok("VERSION");
        let answer: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            answer,
            json!({"cniVersion": v, "supportedVersions": VERSIONS})
        );
    }
}

#[test]
fn add_check_del_point_to_point_in_each_version() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    for v in VERSIONS {
        netns(&lab, "c1");
        let c = conf(v, json!({}));
        let id = ("c1id", "eth0", "c1");
        let r = add(&lab, &c, id);
        assert_eq!(r["cniVersion"], v);
        let host = r["interfaces"][0]["name"].as_str().unwrap().to_string();
        assert!(host.starts_with("nsc") && host.len() == 15, "{r}");
        assert_eq!(r["interfaces"][1]["name"], "eth0");
        assert_eq!(r["interfaces"][1]["sandbox"], "/run/netns/c1");
        assert!(
            r["interfaces"][1]["mac"]
                .as_str()
                .unwrap()
                .starts_with("02:"),
            "{r}"
        );
        let addr = r["ips"][0]["address"].as_str().unwrap().to_string();
        assert!(addr.starts_with("10.77.0.") && addr.ends_with("/24"), "{r}");
        assert_eq!(r["ips"][0]["gateway"], "10.77.0.1");
        assert_eq!(r["ips"][0]["interface"], 1);
        assert_eq!(r["ips"][0].get("version").is_some(), v == "0.4.0", "{r}");
        assert_eq!(r["routes"], json!([{"dst": "0.0.0.0/0"}]));
        // The container reaches the host, the host the container.
        in_ns(&lab, "c1", "ping -c1 -W2 10.77.0.1").expect_ok("ping the gateway");
        lab.sh_ok(&format!("ping -c1 -W2 {}", addr.trim_end_matches("/24")));
        assert!(lab
            .sh_ok(&format!("ip -d link show {host}"))
            .contains("alias nsnet:cni:labnet:c1id:eth0"));
        nsnet(&lab, "CHECK", &with_prev(&c, &r), id).expect_ok("CHECK after ADD");
        assert_ne!(reservations(&lab), "");
        nsnet(&lab, "DEL", &with_prev(&c, &r), id).expect_ok("DEL");
        nsnet(&lab, "DEL", &with_prev(&c, &r), id).expect_ok("DEL again");
        nsnet(&lab, "DEL", &c, id).expect_ok("DEL without prevResult");
        assert_eq!(reservations(&lab), "", "DEL released the address");
        in_ns(&lab, "c1", "ip -o link show eth0")
            .ok()
            .then(|| panic!("eth0 is still in c1"));
        lab.sh_ok("ip netns del c1");
    }
    lab.assert_settles(&before);
}

#[test]
fn add_on_an_existing_interface_fails_and_changes_nothing() {
    let lab = lab!();
    netns(&lab, "c1");
    lab.sh_ok("ip -n c1 link add eth0 type veth peer name eth1");
    ready(&lab);
    let before = lab.snapshot();
    let e = refused(nsnet(
        &lab,
        "ADD",
        &conf("1.0.0", json!({})),
        ("c1id", "eth0", "c1"),
    ));
    assert_eq!(e["code"], 100);
    assert_eq!(
        e["msg"],
        "cannot create eth0 in the network namespace /run/netns/c1: an interface with that name already exists there"
    );
    assert_eq!(reservations(&lab), "");
    lab.assert_unchanged(&before);
    lab.sh_ok("ip netns del c1");
}

/// The longest network name, container ID and interface name the plugin
/// takes make an attachment like any other (their mark fits the alias the
/// kernel keeps); a container ID one byte longer is refused before
/// anything is done.
#[test]
fn the_longest_names_it_takes_are_attached_and_longer_refused_at_once() {
    let lab = lab!();
    netns(&lab, "c1");
    ready(&lab);
    let before = lab.snapshot();
    let net = "n".repeat(100);
    let c = conf("1.0.0", json!({"name": net, "bridge": "nsbr7"}));
    let longest = "c".repeat(127);
    let id = (longest.as_str(), "abcdefghijklmno", "c1");
    let r = add(&lab, &c, id);
    let host = r["interfaces"][1]["name"].as_str().unwrap().to_string();
    assert!(lab
        .sh_ok(&format!("ip -d link show {host}"))
        .contains(&format!("alias nsnet:cni:{net}:{longest}:abcdefghijklmno")));
    nsnet(&lab, "CHECK", &with_prev(&c, &r), id).expect_ok("CHECK");
    nsnet(&lab, "DEL", &with_prev(&c, &r), id).expect_ok("DEL");
    assert_eq!(reservations(&lab), "");
    lab.assert_settles(&before);
    let longer = "c".repeat(128);
    let e = refused(nsnet(&lab, "ADD", &c, (&longer, "abcdefghijklmno", "c1")));
    assert_eq!(e["code"], 4, "{e}");
    assert!(
        e["msg"].as_str().unwrap().contains("longer than 127 bytes"),
        "{e}"
    );
    assert_eq!(reservations(&lab), "");
    lab.assert_unchanged(&before);
    lab.sh_ok("ip netns del c1");
}

#[test]
fn del_succeeds_when_the_namespace_is_gone_and_releases_the_address() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    netns(&lab, "c1");
    let c = conf("1.0.0", json!({}));
    let r = add(&lab, &c, ("c1id", "eth0", "c1"));
    lab.sh_ok("ip netns del c1");
    nsnet(&lab, "DEL", &with_prev(&c, &r), ("c1id", "eth0", "c1")).expect_ok("DEL, namespace gone");
    nsnet(&lab, "DEL", &with_prev(&c, &r), ("c1id", "eth0", "")).expect_ok("DEL, no CNI_NETNS");
    assert_eq!(reservations(&lab), "");
    lab.assert_settles(&before);
}

#[test]
fn bridge_containers_reach_each_other_and_the_bridge_goes_with_the_last() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    for v in VERSIONS {
        bridge_in_version(&lab, v);
    }
    lab.assert_settles(&before);
}

fn bridge_in_version(lab: &Lab, v: &str) {
    let c = conf(v, json!({"bridge": "nsbr7", "mtu": 1400}));
    let mut results = Vec::new();
    for n in 1..=2 {
        let name = format!("c{n}");
        netns(lab, &name);
        let id = format!("id{n}");
        results.push(add(lab, &c, (&id, "eth0", &name)));
    }
    let r = &results[0];
    assert_eq!(r["interfaces"][0]["name"], "nsbr7");
    let mac = r["interfaces"][0]["mac"].as_str().unwrap();
    assert_eq!(
        results[1]["interfaces"][0]["mac"], mac,
        "one MAC for the bridge"
    );
    assert!(
        lab.sh_ok("ip link show nsbr7").contains(mac),
        "the bridge has the MAC its results give"
    );
    let mtu = r["interfaces"][2].get("mtu");
    assert_eq!(mtu, (v == "1.1.0").then_some(&json!(1400)), "{v}: {r}");
    assert_eq!(r["ips"][0]["interface"], 2);
    lab.sh_ok("ip -o addr show nsbr7 | grep -q 'inet 10.77.0.1/24'");
    let addr = |r: &Value| r["ips"][0]["address"].as_str().unwrap().replace("/24", "");
    in_ns(lab, "c1", &format!("ping -c1 -W2 {}", addr(&results[1]))).expect_ok("c1 reaches c2");
    in_ns(
        lab,
        "c2",
        &format!(
            "ping -c1 -W2 {} && ip link show eth0 | grep -q \"mtu 1400\"",
            addr(&results[0])
        ),
    )
    .expect_ok("c2 reaches c1");
    nsnet(
        lab,
        "CHECK",
        &with_prev(&c, &results[1]),
        ("id2", "eth0", "c2"),
    )
    .expect_ok("CHECK");
    nsnet(
        lab,
        "DEL",
        &with_prev(&c, &results[0]),
        ("id1", "eth0", "c1"),
    )
    .expect_ok("DEL c1");
    lab.sh_ok("ip link show nsbr7");
    nsnet(
        lab,
        "DEL",
        &with_prev(&c, &results[1]),
        ("id2", "eth0", "c2"),
    )
    .expect_ok("DEL c2");
    assert!(
        !lab.sh("ip link show nsbr7").ok(),
        "the bridge went with its last port"
    );
    lab.sh_ok("ip netns del c1; ip netns del c2");
    assert_eq!(reservations(lab), "");
}

#[test]
fn point_to_point_containers_reach_each_other_through_the_host() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    let c = conf("1.0.0", json!({}));
    for n in 1..=2 {
        netns(&lab, &format!("c{n}"));
        add(&lab, &c, (&format!("id{n}"), "eth0", &format!("c{n}")));
    }
    lab.sh_ok("echo 1 > /proc/sys/net/ipv4/ip_forward");
    in_ns(&lab, "c1", "ping -c1 -W2 10.77.0.3").expect_ok("c1 reaches c2");
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    for n in 1..=2 {
        nsnet(
            &lab,
            "DEL",
            &c,
            (&format!("id{n}"), "eth0", &format!("c{n}")),
        )
        .expect_ok("DEL");
    }
    lab.sh_ok("ip netns del c1; ip netns del c2");
    lab.assert_settles(&before);
}

#[test]
fn ipmasq_reaches_the_internet_and_fifty_containers_make_one_masquerade() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    let c = conf("1.0.0", json!({"bridge": "nsbr8", "ipMasq": true}));
    let mut results = Vec::new();
    for n in 0..50 {
        let name = format!("c{n}");
        netns(&lab, &name);
        results.push(add(&lab, &c, (&format!("id{n}"), "eth0", &name)));
    }
    let list = lab.sh_ok("natctl list");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 1, "one masquerade for fifty: {list}");
    let (rule, owners) = lines[0].split_once(" owners=").expect("owned");
    assert_eq!(rule, "10.77.0.0/24 masquerade out=any backend=nft");
    let owners: std::collections::BTreeSet<&str> = owners.split(',').collect();
    assert_eq!(owners.len(), 50, "each container an owner: {list}");
    assert!(owners
        .iter()
        .all(|o| o.starts_with("cni:") && o.len() == 20));

    let seen = in_ns(&lab, "c7", &format!("labsvc ask tcp {SERVICE}"))
        .expect_ok("c7 reaches the internet")
        .stdout;
    assert_eq!(seen.trim(), UPLINK, "the service sees the host's address");
    for (n, r) in results.iter().enumerate() {
        nsnet(
            &lab,
            "DEL",
            &with_prev(&c, r),
            (&format!("id{n}"), "eth0", &format!("c{n}")),
        )
        .expect_ok("DEL");
        let left = lab.sh_ok("natctl list");
        assert_eq!(left.is_empty(), n == 49, "after DEL of c{n}: {left}");
        lab.sh_ok(&format!("ip netns del c{n}"));
    }
    assert_eq!(reservations(&lab), "");
    // natctl turned forwarding on and leaves it on by design.
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_settles(&before);
}

#[test]
fn check_fails_on_whatever_is_removed_behind_its_back() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    let c = conf("1.0.0", json!({"ipMasq": true}));
    let id = ("c1id", "eth0", "c1");
    for (what, breaking, says) in [
        (
            "address",
            "ip -n c1 addr del 10.77.0.2/24 dev eth0",
            "the address 10.77.0.2/24 is missing from eth0",
        ),
        (
            "route",
            "ip -n c1 route del default",
            "the route to 0.0.0.0/0 is missing",
        ),
        (
            "masquerade",
            "natctl del 10.77.0.0/24",
            "10.77.0.0/24 is not masqueraded for it (see natctl list)",
        ),
        ("interface", "ip -n c1 link del eth0", "is missing"),
    ] {
        netns(&lab, "c1");
        let r = add(&lab, &c, id);
        nsnet(&lab, "CHECK", &with_prev(&c, &r), id).expect_ok("CHECK before");
        lab.sh_ok(breaking);
        let e = refused(nsnet(&lab, "CHECK", &with_prev(&c, &r), id));
        assert_eq!(e["code"], 100, "{what}: {e}");
        let msg = e["msg"].as_str().unwrap();
        assert!(
            msg.starts_with("CHECK of c1id/eth0: ") && msg.contains(says),
            "{what}: {msg}"
        );
        nsnet(&lab, "DEL", &with_prev(&c, &r), id).expect_ok("DEL");
        lab.sh_ok("ip netns del c1");
    }
    let e = refused(nsnet(&lab, "CHECK", &c, id));
    assert_eq!(e["code"], 7);
    // ipMasq turned forwarding on, and rightly left it on.
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_settles(&before);
}

#[test]
fn gc_removes_exactly_the_stale_attachments() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    for key in ["cni.dev/valid-attachments", "cni.dev/attachments"] {
        let c = conf("1.1.0", json!({"bridge": "nsbr9", "ipMasq": true}));
        let mut id2 = String::new();
        for n in 1..=3 {
            netns(&lab, &format!("c{n}"));
            let r = add(&lab, &c, (&format!("id{n}"), "eth0", &format!("c{n}")));
            if n == 2 {
                id2 = r["interfaces"][1]["name"].as_str().unwrap()[3..].to_string();
            }
        }
        let mut gc = c.clone();
        gc[key] = json!([{"containerID": "id2", "ifname": "eth0"}]);
        call(&lab, "nsnet", "GC", &gc, None).expect_ok("GC");
        for (n, alive) in [(1, false), (2, true), (3, false)] {
            assert_eq!(
                in_ns(&lab, &format!("c{n}"), "ip link show eth0").ok(),
                alive,
                "{key}: c{n}"
            );
        }
        assert_eq!(
            records(&lab),
            format!("{RECORDS}\n{RECORDS}/labnet\n{RECORDS}/labnet/id2:eth0\n"),
            "{key}"
        );
        let held = addresses(&lab);
        assert_eq!(held.lines().count(), 1, "{key}: {held}");
        let owner = lab.sh_ok(&format!("head -n1 {}", held.trim()));
        assert_eq!(owner.trim(), "id2", "{key}: only id2's address is left");
        let list = lab.sh_ok("natctl list");
        assert!(
            list.contains(&format!(" owners=cni:{id2}")) && !list.contains(','),
            "{key}: only id2 holds the masquerade: {list}"
        );
        gc[key] = json!([]);
        call(&lab, "nsnet", "GC", &gc, None).expect_ok("GC of all");
        assert!(
            !lab.sh("ip link show nsbr9").ok(),
            "{key}: the bridge went with the last"
        );
        assert_eq!(reservations(&lab), "");
        assert_eq!(lab.sh_ok("natctl list"), "");
        lab.sh_ok("ip netns del c1; ip netns del c2; ip netns del c3");
    }
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_settles(&before);
}

#[test]
fn status_is_ready_with_its_ipam_plugin_and_needs_1_1_0() {
    let lab = lab!();
    call(
        &lab,
        "nsnet",
        "STATUS",
        &conf("1.1.0", json!({"ipMasq": true})),
        None,
    )
    .expect_ok("STATUS");
    let e = refused(call(
        &lab,
        "nsnet",
        "STATUS",
        &conf("1.1.0", json!({"ipam": {"type": "nosuch"}})),
        None,
    ));
    assert_eq!(e["code"], 50);
    assert!(
        e["msg"]
            .as_str()
            .unwrap()
            .contains("cannot find the IPAM plugin \"nosuch\""),
        "{e}"
    );
    let e = refused(call(
        &lab,
        "nsnet",
        "STATUS",
        &conf("1.0.0", json!({})),
        None,
    ));
    assert_eq!(e["code"], 1);
}

#[test]
fn bad_configurations_get_the_spec_error_and_change_nothing() {
    let lab = lab!();
    netns(&lab, "c1");
    ready(&lab);
    let before = lab.snapshot();
    let no_ipam = {
        let mut c = conf("1.0.0", json!({}));
        c.as_object_mut().unwrap().remove("ipam");
        c
    };
    let bad_subnet = conf(
        "1.0.0",
        json!({"ipam": {"type": "host-local", "dataDir": IPAM_DIR, "ranges": [[{"subnet": "10.77.0.0/33"}]]}}),
    );
    for (c, code, msg) in [
        (no_ipam, 7, "invalid network configuration: \"ipam\" is missing"),
        (bad_subnet, 999, "IPAM plugin host-local: invalid CIDR address: 10.77.0.0/33"),
        (conf("1.0.0", json!({"ipMasq": "yes"})), 7, "invalid network configuration: \"ipMasq\" must be true or false, not the string \"yes\""),
        (conf("1.0.0", json!({"mtu": "1500"})), 7, "invalid network configuration: \"mtu\" must be a number from 68 to 65535, not the string \"1500\""),
        (conf("1.0.0", json!({"bridge": "a-bridge-name-too-long"})), 7, "invalid network configuration: \"bridge\": invalid interface name 'a-bridge-name-too-long': longer than 15 bytes"),
        (conf("0.3.1", json!({})), 1, "incompatible CNI versions"),
    ] {
        let e = refused(nsnet(&lab, "ADD", &c, ("c1id", "eth0", "c1")));
        assert_eq!(e["code"], code, "{e}");
        assert!(e["msg"].as_str().unwrap().starts_with(msg), "{e}");
    }
    let e = refused(lab.run_with_stdin(
        &[
            "env",
            "CNI_COMMAND=ADD",
            "CNI_CONTAINERID=c1id",
            "CNI_IFNAME=eth0",
            "CNI_NETNS=/run/netns/c1",
            "nsnet",
        ],
        "{not json",
    ));
    assert_eq!(e["code"], 6);
    let e = refused(lab.run_with_stdin(&["env", "CNI_COMMAND=ADD", "nsnet"], "{}"));
    assert_eq!(e["code"], 4);
    assert!(
        e["msg"]
            .as_str()
            .unwrap()
            .contains("CNI_CONTAINERID is not set"),
        "{e}"
    );
    assert_eq!(reservations(&lab), "");
    lab.assert_unchanged(&before);
    lab.sh_ok("ip netns del c1");
}

#[test]
fn chains_with_loopback_before_and_portmap_and_tuning_after() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    netns(&lab, "c1");
    let id = ("c1id", "eth0", "c1");
    for v in ["0.4.0", "1.0.0"] {
        let lo = json!({"cniVersion": v, "name": "labnet", "type": "loopback"});
        let r0: Value = serde_json::from_str(
            &call(&lab, "loopback", "ADD", &lo, Some(("c1id", "lo", "c1")))
                .expect_ok("loopback")
                .stdout,
        )
        .unwrap();
        let c = with_prev(&conf(v, json!({})), &r0);
        let r1 = add(&lab, &c, id);
        assert_eq!(
            r1["interfaces"][0]["name"], "lo",
            "loopback's result is kept first"
        );
        assert_eq!(r1["ips"].as_array().unwrap().len(), 3, "{r1}");
        assert_eq!(r1["ips"][2]["interface"], 2, "{r1}");
        let tuning = json!({"cniVersion": v, "name": "labnet", "type": "tuning", "sysctl": {"net.ipv4.conf.eth0.rp_filter": "2"}, "prevResult": r1});
        let r2: Value = serde_json::from_str(
            &call(&lab, "tuning", "ADD", &tuning, Some(id))
                .expect_ok("tuning")
                .stdout,
        )
        .unwrap();
        assert_eq!(
            in_ns(&lab, "c1", "cat /proc/sys/net/ipv4/conf/eth0/rp_filter")
                .stdout
                .trim(),
            "2"
        );
        // portmap reads the container's address from our result, and
        // passes it on as it is.
        let portmap = with_ports(
            &json!({"cniVersion": v, "name": "labnet", "type": "portmap", "prevResult": r2}),
            json!([{"hostPort": 9090, "containerPort": 80, "protocol": "tcp"}]),
        );
        let r3: Value = serde_json::from_str(
            &call(&lab, "portmap", "ADD", &portmap, Some(id))
                .expect_ok("portmap")
                .stdout,
        )
        .unwrap();
        assert_eq!(r3, r2, "portmap passes the result on");
        let addr = r1["ips"][2]["address"]
            .as_str()
            .unwrap()
            .trim_end_matches("/24");
        let nat = lab.sh_ok("iptables-save -t nat");
        assert!(
            nat.contains(&format!("--to-destination {addr}:80")),
            "portmap found the container's address in nsnet's result: {nat}"
        );
        let full = with_prev(&conf(v, json!({})), &r3);
        nsnet(&lab, "CHECK", &full, id).expect_ok("CHECK with the chain's result");
        let mut portmap_del = portmap.clone();
        portmap_del["prevResult"] = r3.clone();
        call(&lab, "portmap", "DEL", &portmap_del, Some(id)).expect_ok("portmap DEL");
        nsnet(&lab, "DEL", &full, id).expect_ok("DEL");
        call(
            &lab,
            "loopback",
            "DEL",
            &with_prev(&lo, &r0),
            Some(("c1id", "lo", "c1")),
        )
        .expect_ok("loopback DEL");
    }
    lab.sh_ok("ip netns del c1");
    // portmap keeps its top chains by design: they are its, not nsnet's.
    lab.sh_ok(
        "iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT && \
         iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT && \
         iptables -t nat -D POSTROUTING -m comment --comment 'CNI portfwd requiring masquerade' -j CNI-HOSTPORT-MASQ && \
         for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do \
           iptables -t nat -F $c && iptables -t nat -X $c; done",
    );
    lab.assert_settles(&before);
}

/// `conf` as a runtime gives it to a plugin with the portMappings
/// capability: `runtimeConfig.portMappings`.
fn with_ports(conf: &Value, mappings: Value) -> Value {
    let mut c = conf.clone();
    c["capabilities"] = json!({"portMappings": true});
    c["runtimeConfig"] = json!({ "portMappings": mappings });
    c
}

#[test]
fn port_mappings_are_published_for_the_container_and_go_with_del() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    netns(&lab, "c1");
    let c = with_ports(
        &conf("1.0.0", json!({"bridge": "nsbr6", "ipMasq": true})),
        json!([
            {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
            {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "198.51.100.2"}
        ]),
    );
    let id = ("c1id", "eth0", "c1");
    let r = add(&lab, &c, id);
    assert_eq!(r["ips"][0]["address"], "10.77.0.2/24");
    let mut server = lab.spawn("exec ip netns exec c1 labsvc serve 10.77.0.2:80 10.77.0.2:53");
    assert_eq!(server.line(), "ready");
    let list = lab.sh_ok("natctl list");
    let owner = format!(
        "owners=cni:{}",
        &r["interfaces"][1]["name"].as_str().unwrap()[3..]
    );
    for line in [
        "10.77.0.0/24 masquerade out=any backend=nft",
        "publish tcp 8080 -> 10.77.0.2:80 host=any backend=nft",
        "publish udp 5353 -> 10.77.0.2:53 host=198.51.100.2 backend=nft",
    ] {
        let held = list.lines().find(|l| l.starts_with(line));
        assert!(
            held.is_some_and(|l| l.contains(&owner)),
            "{line} held by {owner}: {list}"
        );
    }
    // From the lab's internet, which keeps its own address, and from the
    // host itself.
    let seen = lab
        .internet_sh("labsvc ask tcp 198.51.100.2:8080")
        .expect_ok("the published port from the internet")
        .stdout;
    assert_eq!(seen.trim(), "198.51.100.1");
    let seen = lab
        .internet_sh("labsvc ask udp 198.51.100.2:5353")
        .expect_ok("the published UDP port from the internet")
        .stdout;
    assert_eq!(seen.trim(), "198.51.100.1");
    lab.sh_ok("labsvc ask tcp 198.51.100.2:8080");
    nsnet(&lab, "CHECK", &with_prev(&c, &r), id).expect_ok("CHECK");
    lab.sh_ok("natctl unpublish --udp --host 198.51.100.2 5353");
    let e = refused(nsnet(&lab, "CHECK", &with_prev(&c, &r), id));
    assert!(
        e["msg"]
            .as_str()
            .unwrap()
            .contains("udp 5353 is not published to 10.77.0.2:53 for it"),
        "{e}"
    );
    drop(server);
    nsnet(&lab, "DEL", &with_prev(&c, &r), id).expect_ok("DEL");
    assert_eq!(lab.sh_ok("natctl list"), "");
    assert!(!lab.internet_sh("labsvc ask tcp 198.51.100.2:8080").ok());
    nsnet(&lab, "DEL", &with_prev(&c, &r), id).expect_ok("DEL again");
    assert_eq!(reservations(&lab), "");
    lab.sh_ok("ip netns del c1; echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_settles(&before);
}

/// A port another owner holds stops ADD, which then undoes all it did:
/// no link, no address, no record, no masquerade.
#[test]
fn add_undoes_everything_when_a_port_is_taken() {
    let lab = lab!();
    ready(&lab);
    netns(&lab, "c1");
    lab.sh_ok("natctl publish 8080 10.99.0.2:80");
    let before = lab.snapshot();
    let c = with_ports(
        &conf("1.1.0", json!({"bridge": "nsbr5", "ipMasq": true})),
        json!([{"hostPort": 8080, "containerPort": 80}]),
    );
    let e = refused(nsnet(&lab, "ADD", &c, ("c1id", "eth0", "c1")));
    assert_eq!(e["code"], 100, "{e}");
    assert_eq!(
        e["msg"],
        "cannot publish tcp 8080: it is already published (publish tcp 8080 -> 10.99.0.2:80 host=any; natctl unpublish it first)"
    );
    assert_eq!(reservations(&lab), "");
    assert_eq!(
        lab.sh_ok("natctl list"),
        "publish tcp 8080 -> 10.99.0.2:80 host=any backend=nft\n"
    );
    assert!(!lab.sh("ip -n c1 link show eth0").ok());
    lab.assert_unchanged(&before);
    lab.sh_ok("natctl flush; ip netns del c1");
}

/// A container whose namespace died without a DEL leaves no link to find,
/// but its address, its record and its hold on the masquerade and the
/// port: natctl's gc cannot judge it and leaves it, the runtime's GC
/// clears it (and only it).
#[test]
fn gc_clears_attachments_whose_namespace_is_gone() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    let c = with_ports(
        &conf("1.1.0", json!({"bridge": "nsbr4", "ipMasq": true})),
        json!([{"hostPort": 8080, "containerPort": 80}]),
    );
    netns(&lab, "c1");
    netns(&lab, "c2");
    add(&lab, &c, ("id1", "eth0", "c1"));
    add(
        &lab,
        &conf("1.1.0", json!({"bridge": "nsbr4", "ipMasq": true})),
        ("id2", "eth0", "c2"),
    );
    lab.sh_ok("ip netns del c1");
    lab.sh_ok("natctl gc");
    let list = lab.sh_ok("natctl list");
    assert_eq!(list.lines().count(), 2, "natctl gc left both: {list}");
    assert_eq!(addresses(&lab).lines().count(), 2);
    let mut gc = conf("1.1.0", json!({"bridge": "nsbr4", "ipMasq": true}));
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "id2", "ifname": "eth0"}]);
    call(&lab, "nsnet", "GC", &gc, None).expect_ok("GC");
    let list = lab.sh_ok("natctl list");
    assert!(
        list.starts_with("10.77.0.0/24 masquerade out=any backend=nft owners=cni:")
            && list.lines().count() == 1
            && !list.contains(','),
        "only id2's hold on the masquerade is left: {list}"
    );
    assert_eq!(
        records(&lab),
        format!("{RECORDS}\n{RECORDS}/labnet\n{RECORDS}/labnet/id2:eth0\n")
    );
    assert_eq!(addresses(&lab).lines().count(), 1);
    in_ns(&lab, "c2", "ip link show eth0").expect_ok("id2 kept its link");
    gc["cni.dev/valid-attachments"] = json!([]);
    call(&lab, "nsnet", "GC", &gc, None).expect_ok("GC of all");
    assert_eq!(lab.sh_ok("natctl list"), "");
    assert_eq!(reservations(&lab), "");
    lab.sh_ok("ip netns del c2; echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_settles(&before);
}

/// Runs at once, as a runtime starting many containers does: ten ADDs on
/// one bridge network, then ten DELs, each a process of its own. The link
/// lock, natctl's lock and the records keep them apart: every container
/// gets its own address and link, one masquerade holds all ten, and the
/// last DEL, whichever it is, takes the bridge and the masquerade.
/// DEL releases the address, once its rules are gone, while its links
/// go: an ADD given that address at once (here the range's only one)
/// waits for the old link before it puts it on its own. Every ADD that fails, fails for
/// want of an address, never on the old link's route or the old port;
/// the one that succeeds has the address, the route through its own host
/// end, its gateway, and the same port published once, which goes with
/// its own DEL.
#[test]
fn an_address_released_by_del_waits_for_its_old_link_and_rules() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    let mut c = with_ports(
        &conf("1.0.0", json!({"ipMasq": true})),
        json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
    );
    one_address(&mut c);
    lab.sh_ok(&format!("cat > /run/net.json <<'EOF'\n{c}\nEOF"));
    let cni = cni_function(PLUGINS);
    netns(&lab, "a");
    netns(&lab, "b");
    add(&lab, &c, ("a", "eth0", "a"));
    let (mut old, mut new) = ("a", "b");
    for round in 0..6 {
        let out = lab.sh_ok(&format!(
            "{cni} cni DEL {old} > /run/del.out & del=$!; tries=0; \
             until cni ADD {new} > /run/add.out; do \
               tries=$((tries+1)); cat /run/add.out; echo; [ $tries -lt 500 ] || break; \
             done; natctl list > /run/list.out; \
             wait $del || {{ echo DEL failed; cat /run/del.out; }}; rm -f /run/del.out /run/add.out"
        ));
        for failure in out.lines().filter(|l| !l.is_empty()) {
            assert!(
                failure.contains("no IP addresses available"),
                "round {round}: an ADD failed for another reason than the address being taken: {out}"
            );
        }
        // When the ADD is done, the old attachment's rules are gone: the
        // masquerade and the port are each held by one owner, the new one.
        let at_add = lab.sh_ok("cat /run/list.out; rm /run/list.out");
        assert!(
            at_add.lines().count() == 2
                && at_add.contains("publish tcp 8080")
                && at_add.lines().all(|l| l.matches("cni:").count() == 1),
            "round {round}: as the ADD returned, natctl held: {at_add}"
        );
        let host = lab.sh_ok("ip -o route get 10.77.0.2 | sed -n 's/.* dev \\([^ ]*\\) .*/\\1/p'");
        let alias = lab.sh_ok(&format!(
            "ip -o link show {} | sed -n 's/.* alias //p'",
            host.trim()
        ));
        assert!(
            alias.trim().ends_with(&format!(":{new}:eth0")),
            "round {round}: the route to the address goes through {host}, alias {alias}"
        );
        in_ns(
            &lab,
            new,
            "ip -o addr show eth0 | grep -q 10.77.0.2/ && ping -c1 -W2 10.77.0.1",
        )
        .expect_ok("the new container has the address and reaches its gateway");
        let list = lab.sh_ok("natctl list");
        assert_eq!(
            list.matches("8080").count(),
            1,
            "round {round}: the port is published once: {list}"
        );
        (old, new) = (new, old);
    }
    nsnet(&lab, "DEL", &c, (old, "eth0", old)).expect_ok("the last DEL");
    assert_eq!(reservations(&lab), "");
    assert_eq!(lab.sh_ok("natctl list"), "");
    lab.sh_ok("rm /run/net.json; ip netns del a; ip netns del b");
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_settles(&before);
}

/// A DEL killed as its IPAM plugin releases the address (a runtime's
/// timeout, say) has already removed the link that held it: an ADD given
/// the address at once gets it, and the DEL tried again does the rest.
#[test]
fn a_del_killed_as_it_releases_the_address_leaves_no_link_holding_it() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    // Many links, so that reading them takes a while: the release must
    // wait for that read and for the removal after it.
    lab.sh_ok(
        "for i in $(seq 1000); do echo link add nsd$i group 99 type veth peer name nsp$i group 99; \
         done | ip -batch -",
    );
    let mut c = conf("1.0.0", json!({"ipMasq": true}));
    one_address(&mut c);
    // host-local behind a wrapper that, at the first DEL, kills the
    // plugin that called it, then releases the address.
    lab.sh_ok(&format!(
        "cat > /run/net.json <<'EOF'\n{c}\nEOF\n\
         mkdir /run/ipam && cat > /run/ipam/host-local <<'EOF'\n#!/bin/sh\n\
         if [ \"$CNI_COMMAND\" = DEL ] && rm /run/kill 2>/dev/null; then kill -KILL $PPID; fi\n\
         exec {PLUGINS}/host-local\nEOF\n\
         chmod +x /run/ipam/host-local"
    ));
    let cni = cni_function(&format!("/run/ipam:{PLUGINS}"));
    netns(&lab, "a");
    netns(&lab, "b");
    lab.sh_ok(&format!("{cni} cni ADD a"));
    let killed = lab.sh(&format!("touch /run/kill; {cni} cni DEL a"));
    assert_eq!(killed.code(), 128 + 9, "the DEL was killed: {killed:?}");
    assert_eq!(addresses(&lab), "", "the address was released");
    assert_eq!(
        lab.sh_ok("natctl list"),
        "",
        "the rules were let go of before the address"
    );
    assert!(
        records(&lab).contains("/a:eth0"),
        "the killed DEL left its record, for a DEL tried again"
    );
    assert_eq!(
        lab.sh_ok("ip -o link show | grep ':a:eth0$' || true"),
        "",
        "a link of the killed DEL's attachment is left"
    );
    lab.sh(&format!("{cni} cni ADD b"))
        .expect_ok("an ADD given the released address");
    in_ns(&lab, "b", "ping -c1 -W2 10.77.0.1").expect_ok("the new container reaches its gateway");
    lab.sh(&format!("{cni} cni DEL a"))
        .expect_ok("the DEL tried again");
    let left = records(&lab);
    assert!(
        !left.contains("/a:eth0") && left.contains("/b:eth0"),
        "the DEL tried again removed the record the killed one left: {left}"
    );
    let list = lab.sh_ok("natctl list");
    assert!(
        list.lines().count() == 1 && list.matches("cni:").count() == 1,
        "the masquerade is held by the new attachment alone: {list}"
    );
    lab.sh(&format!("{cni} cni DEL b"))
        .expect_ok("the last DEL");
    assert_eq!(reservations(&lab), "");
    assert_eq!(lab.sh_ok("natctl list"), "");
    lab.sh_ok(
        "ip link del group 99; rm -r /run/net.json /run/ipam; ip netns del a; ip netns del b; \
         echo 0 > /proc/sys/net/ipv4/ip_forward",
    );
    lab.assert_settles(&before);
}

#[test]
fn many_runs_at_once_on_one_network() {
    let lab = lab!();
    ready(&lab);
    let before = lab.snapshot();
    let c = conf("1.0.0", json!({"bridge": "nsbr3", "ipMasq": true}));
    lab.sh_ok(&format!("cat > /run/net.json <<'EOF'\n{c}\nEOF"));
    let nsnet = nsnet_lab::bin("nsnet").display().to_string();
    let run_all = |command: &str| {
        lab.sh_ok(&format!(
            "for n in $(seq 0 9); do \
               CNI_COMMAND={command} CNI_CONTAINERID=id$n CNI_IFNAME=eth0 \
               CNI_NETNS=/run/netns/c$n CNI_PATH={PLUGINS} {nsnet} < /run/net.json > /run/out$n & \
               pids=\"$pids $!\"; \
             done; fails=0; for p in $pids; do wait $p || fails=$((fails+1)); done; \
             cat /run/out*; rm /run/out*; exit $fails"
        ))
    };
    for n in 0..10 {
        netns(&lab, &format!("c{n}"));
    }
    let results = run_all("ADD");
    let mut addresses: Vec<&str> = results
        .split("\"address\":\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 10, "ten addresses: {results}");
    let list = lab.sh_ok("natctl list");
    assert_eq!(list.lines().count(), 1, "{list}");
    assert_eq!(list.matches("cni:").count(), 10, "{list}");
    for n in 0..10 {
        in_ns(&lab, &format!("c{n}"), "ping -c1 -W2 10.77.0.1").expect_ok("the gateway");
    }
    run_all("DEL");
    assert_eq!(lab.sh_ok("natctl list"), "");
    assert!(
        !lab.sh("ip link show nsbr3").ok(),
        "the bridge went with the last"
    );
    assert_eq!(reservations(&lab), "");
    lab.sh_ok("rm /run/net.json; for n in $(seq 0 9); do ip netns del c$n; done");
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_settles(&before);
}
