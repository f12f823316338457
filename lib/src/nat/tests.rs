//! Plans, parsers and decisions of the nat layer, without root: the
//! kernel's answers are given as text (iptables-save, nft -j) or as
//! netlink attributes built here.

use super::iptables::{self, IptState};
use super::nft::{self, NftState, Op};
use super::*;
use crate::port::Proto;

fn subnet(text: &str) -> Subnet {
    text.parse().unwrap()
}

fn masq(text: &str, out: Option<&str>) -> Rule {
    Rule::Masquerade(Masquerade {
        subnet: subnet(text),
        out: out.map(|o| o.parse().unwrap()),
    })
}

fn publish(line: &str) -> Rule {
    match line.parse::<Line>().unwrap().rule {
        LineRule::Rule(r) => r,
        other => panic!("{other:?}"),
    }
}

fn owner(pid: u32, start: u64) -> Owner {
    Owner::Process { pid, start }
}

/// This test's own process as an owner, with its PID and start.
fn me() -> (Owner, u32, u64) {
    let me = Owner::of(std::process::id()).unwrap();
    match me {
        Owner::Process { pid, start } => (me, pid, start),
        Owner::Attachment(_) => unreachable!("a process"),
    }
}

fn found(rule: Rule, owners: Option<Vec<Owner>>) -> Found {
    Found {
        rule,
        backend: Backend::Nft,
        owners,
    }
}

#[test]
fn the_nft_table_is_written_once_with_fixed_rules_and_the_first_elements() {
    let state = NftState::empty(Family::V4);
    assert!(!state.complete());
    let ops = add_ops(&masq("10.0.0.0/24", None));
    let script = state.create(&ops);
    assert!(script.starts_with("add table ip nsnet\n"), "{script}");
    assert!(
        script.contains("add set ip nsnet nets { type ipv4_addr . ipv4_addr; flags interval; }\n")
    );
    assert!(script.contains(
        "add rule ip nsnet forward ct state ! established,related ct status ! dnat \
         ip daddr . ip daddr @nets ip saddr . ip daddr != @nets drop comment \"nsnet:isolate\"\n"
    ));
    assert!(script.ends_with(
        "add element ip nsnet nets { 10.0.0.0/24 . 10.0.0.0/24 }\n\
         add element ip nsnet masq { 10.0.0.0/24 . 10.0.0.0/24 }\n"
    ));
    // `ct state != established,related` compares the whole bitmask and
    // would drop every reply: the rule must use the mask form.
    assert!(!script.contains("!= established"));
    assert_eq!(nft::rules(Family::V4).len(), 11);
    assert_eq!(
        nft::rules(Family::V6).len(),
        9,
        "no 127.0.0.1 rules for IPv6"
    );
    assert!(nft::rules(Family::V6)
        .iter()
        .any(|(chain, _, r)| *chain == "output" && r.contains("ip6 daddr != ::1")));
}

#[test]
fn a_subnet_and_a_publish_are_elements() {
    let ops = add_ops(&masq("fd00:10::/64", Some("up0")));
    let text: String = ops.iter().map(|o| o.text(Family::V6)).collect();
    assert_eq!(
        text,
        "add element ip6 nsnet nets { fd00:10::/64 . fd00:10::/64 comment \"out=up0\" }\n\
         add element ip6 nsnet masq_out { fd00:10::/64 . \"up0\" }\n"
    );
    let ops = add_ops(&publish(
        "publish udp 5300-5301 -> 10.0.0.2:53-54 host=198.51.100.2",
    ));
    let text: String = ops.iter().map(|o| o.text(Family::V4)).collect();
    assert_eq!(
        text,
        "add element ip nsnet hostports { udp . 198.51.100.2 . 5300 comment \"5300-5301\" : 10.0.0.2 . 53, \
         udp . 198.51.100.2 . 5301 comment \"5300-5301\" : 10.0.0.2 . 54 }\n"
    );
    let ops = remove_ops(&publish("publish tcp 8080 -> 10.0.0.2:80"));
    assert_eq!(
        ops[0].text(Family::V4),
        "delete element ip nsnet ports { tcp . 8080 }\n"
    );
}

#[test]
fn owners_have_a_set_of_their_own_per_entry() {
    let key = Key::Subnet(subnet("10.0.0.0/24"));
    assert_eq!(nft::owners_set(&key), "owners_10.0.0.0_24");
    let key = Key::Subnet(subnet("fd00:10::/64"));
    assert_eq!(
        nft::owners_set(&key),
        "owners_fd000010000000000000000000000000_64"
    );
    let k = PortKey {
        proto: Proto::Udp,
        host: Some("198.51.100.2".parse().unwrap()),
        ports: "53".parse().unwrap(),
    };
    assert_eq!(
        nft::owners_set(&Key::Ports(k)),
        "owners_udp_53_198.51.100.2"
    );
    let a = Owner::Attachment(0xfeed_0000_0000_beef);
    let e = nft::owner_element(&a);
    assert_eq!(e.text(), "0 . 4276944896 . 48879");
    let back = nft::Found::from_attributes(&e.attributes(false, false));
    assert_eq!(nft::owner_of(&back), Some(a), "PID 0 marks an attachment");
    let o = owner(4242, (7 << 32) | 9);
    let e = nft::owner_element(&o);
    assert_eq!(e.text(), "4242 . 7 . 9");
    let back = nft::Found::from_attributes(&e.attributes(false, false));
    assert_eq!(nft::owner_of(&back), Some(o));
    assert_eq!(
        Op::AddOwners {
            name: "owners_x".into()
        }
        .text(Family::V4),
        "add set ip nsnet owners_x { type mark . mark . mark; }\n"
    );
}

#[test]
fn entries_are_read_back_from_their_elements() {
    let m = masq("10.0.0.0/24", Some("up0"));
    let (_, nets) = &nft::rule_elements(&m)[0];
    let f = nft::Found::from_attributes(&nets[0].attributes(true, false));
    assert_eq!(
        nft::masquerade_from(Family::V4, &f).map(Rule::Masquerade),
        Some(m)
    );
    let p = publish("publish tcp 8000-8002 -> [fd00:10::2]:9000-9002");
    let (_, ports) = &nft::rule_elements(&p)[0];
    // Any port of the range gives the whole entry.
    let f = nft::Found::from_attributes(&ports[1].attributes(false, false));
    let back = nft::publish_from(Family::V6, Proto::Tcp, None, 8001, &f);
    assert_eq!(back.map(Rule::Publish), Some(p));
}

#[test]
fn a_listing_gives_entries_with_their_owners() {
    let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
      {"table": {"family": "ip", "name": "nsnet", "handle": 1}},
      {"set": {"family": "ip", "name": "nets", "table": "nsnet", "type": ["ipv4_addr", "ipv4_addr"], "flags": ["interval"],
        "elem": [{"concat": [{"prefix": {"addr": "10.0.0.0", "len": 24}}, {"prefix": {"addr": "10.0.0.0", "len": 24}}]},
                 {"elem": {"val": {"concat": [{"prefix": {"addr": "10.0.1.0", "len": 24}}, {"prefix": {"addr": "10.0.1.0", "len": 24}}]}, "comment": "out=up0"}}]}},
      {"map": {"family": "ip", "name": "ports", "table": "nsnet", "type": ["inet_proto", "inet_service"], "map": "ipv4_addr . inet_service",
        "elem": [[{"elem": {"val": {"concat": ["tcp", 8080]}, "comment": "8080"}}, {"concat": ["10.0.0.2", 80]}],
                 [{"elem": {"val": {"concat": ["udp", 5300]}, "comment": "5300-5301"}}, {"concat": ["10.0.0.2", 53]}],
                 [{"elem": {"val": {"concat": ["udp", 5301]}, "comment": "5300-5301"}}, {"concat": ["10.0.0.2", 54]}]]}},
      {"set": {"family": "ip", "name": "owners_tcp_8080", "table": "nsnet", "type": ["mark", "mark", "mark"],
        "elem": [{"concat": [4242, 0, 99]}]}},
      {"set": {"family": "ip", "name": "theirs", "table": "other", "elem": ["10.9.9.9"]}}]}"#;
    let entries = nft::json::parse(json).unwrap();
    let lines: Vec<String> = entries.iter().map(Entry::to_string).collect();
    assert_eq!(
        lines,
        [
            "10.0.0.0/24 masquerade out=any backend=nft",
            "10.0.1.0/24 masquerade out=up0 backend=nft",
            "publish tcp 8080 -> 10.0.0.2:80 host=any backend=nft owners=4242:99",
            "publish udp 5300-5301 -> 10.0.0.2:53-54 host=any backend=nft",
        ]
    );
    assert!(nft::json::parse("not json").is_err());
}

const IPT: &str = r#"# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [3:180]
:OUTPUT ACCEPT [0:0]
:DOCKER-USER - [0:0]
:NSNET-FORWARD - [0:0]
:NSNET-OWNERS - [0:0]
-A FORWARD -j NSNET-FORWARD
-A FORWARD -j DOCKER-USER
-A NSNET-FORWARD ! -s 10.0.2.0/24 -d 10.0.2.0/24 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment "nsnet:10.0.2.0/24 isolate" -j DROP
-A NSNET-FORWARD -s 192.0.2.0/24 -j RETURN
-A NSNET-FORWARD -d 10.0.2.0/24 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment "nsnet:10.0.2.0/24 accept" -j ACCEPT
-A NSNET-FORWARD -s 10.0.2.0/24 -m comment --comment "nsnet:10.0.2.0/24 accept" -j ACCEPT
-A NSNET-OWNERS -m comment --comment "nsnet:owner 4242:99 10.0.2.0/24" -j RETURN
-A NSNET-OWNERS -m comment --comment "nsnet:owner cni:00000000000000ab 10.0.2.0/24" -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:NSNET-POSTROUTING - [0:0]
:NSNET-PREROUTING - [0:0]
-A PREROUTING -j NSNET-PREROUTING
-A POSTROUTING -j NSNET-POSTROUTING
-A POSTROUTING -s 192.0.2.0/24 -j MASQUERADE
-A NSNET-POSTROUTING -s 10.0.2.0/24 -d 10.0.2.0/24 -m conntrack --ctstate DNAT -m comment --comment "nsnet:10.0.2.0/24 hairpin" -j MASQUERADE
-A NSNET-POSTROUTING -s 10.0.2.0/24 ! -d 10.0.2.0/24 -o up0 -m comment --comment "nsnet:10.0.2.0/24 masquerade out=up0" -j MASQUERADE
-A NSNET-PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080 -m comment --comment "nsnet:publish tcp 8080 -> 10.0.2.2:80 host=any" -j DNAT --to-destination 10.0.2.2:80
COMMIT
"#;

#[test]
fn iptables_save_is_read_back_into_rules_owners_and_positions() {
    let state = IptState::parse(Family::V4, IPT);
    assert!(state.forward_drops);
    let rules: Vec<String> = state
        .rules()
        .iter()
        .map(|(r, o)| format!("{r} {o:?}"))
        .collect();
    assert_eq!(
        rules,
        [
            "10.0.2.0/24 masquerade out=up0 Some([Process { pid: 4242, start: 99 }, Attachment(171)])",
            "publish tcp 8080 -> 10.0.2.2:80 host=any None",
        ]
    );
    assert_eq!(state.chain(&iptables::FORWARD).jumps, 1);
    assert_eq!(state.chain(&iptables::FORWARD).rules.len(), 4);
    assert!(!state.needs_accept(&subnet("10.0.2.0/24")));
    assert!(state.needs_accept(&subnet("10.0.3.0/24")));
}

#[test]
fn iptables_removal_deletes_by_position_and_keeps_a_chain_with_foreign_rules() {
    let state = IptState::parse(Family::V4, IPT);
    let mut change = iptables::Change::default();
    state.remove(&Key::Subnet(subnet("10.0.2.0/24")), false, &mut change);
    assert_eq!(
        change.render(&state),
        "*nat\n\
         -D NSNET-POSTROUTING 2\n\
         -D NSNET-POSTROUTING 1\n\
         -D POSTROUTING -j NSNET-POSTROUTING\n\
         -X NSNET-POSTROUTING\n\
         COMMIT\n\
         *filter\n\
         -D NSNET-FORWARD 4\n\
         -D NSNET-FORWARD 3\n\
         -D NSNET-FORWARD 1\n\
         -D NSNET-OWNERS 2\n\
         -D NSNET-OWNERS 1\n\
         -X NSNET-OWNERS\n\
         COMMIT\n"
    );
}

#[test]
fn a_fresh_iptables_add_isolates_first_and_makes_chains_and_jumps() {
    let state = IptState::empty(Family::V4);
    let mut change = iptables::Change::default();
    state.add(&masq("10.0.0.0/24", None), &[owner(7, 8)], &mut change);
    let input = change.render(&state);
    assert!(
        input.starts_with("*filter\n:NSNET-FORWARD - [0:0]\n-I NSNET-FORWARD 1 ! -s 10.0.0.0/24"),
        "{input}"
    );
    assert!(input.contains("-I FORWARD 1 -j NSNET-FORWARD\n"), "{input}");
    assert!(input.contains(":NSNET-OWNERS - [0:0]\n-A NSNET-OWNERS -m comment --comment \"nsnet:owner 7:8 10.0.0.0/24\" -j RETURN\n"), "{input}");
    assert!(
        !input.contains("-j NSNET-OWNERS"),
        "nothing jumps to the owners"
    );
    let filter_at = input.find("*filter").unwrap();
    let nat_at = input.find("*nat").unwrap();
    assert!(filter_at < nat_at, "isolation before the masquerade");
    let mut change = iptables::Change::default();
    state.add(
        &publish("publish tcp 8000-8010 -> [fd00::2]:9000-9010"),
        &[],
        &mut change,
    );
    let input = change.render(&IptState::empty(Family::V6));
    assert!(input.contains("--dport 8000:8010 -m comment --comment \"nsnet:publish tcp 8000-8010 -> [fd00::2]:9000-9010 host=any\" -j DNAT --to-destination [fd00::2]:9000-9010/8000"), "{input}");
    assert!(
        input.contains("-A NSNET-OUTPUT -p tcp ! -d ::1/128"),
        "{input}"
    );
}

#[test]
fn iptables_marks_name_what_each_rule_is_for() {
    use iptables::Mark;
    assert_eq!(
        Mark::parse("nsnet:10.0.0.0/24"),
        Some(Mark::Subnet {
            subnet: subnet("10.0.0.0/24"),
            role: "masquerade".into(),
            out: None
        }),
        "an older natctl's bare mark"
    );
    assert!(matches!(
        Mark::parse("nsnet:owner 1:2 tcp 80 host=any"),
        Some(Mark::Owner(_, Key::Ports(_)))
    ));
    assert_eq!(Mark::parse("docker:x"), None);
}

#[test]
fn adding_decides_by_what_is_there_and_who_owns_it() {
    let wanted = masq("10.0.0.0/24", None);
    let (me, pid, start) = me();
    let dead = owner(pid, start + 1);
    assert_eq!(decide(None, &wanted, None), Ok(Decision::Create));
    let permanent = found(wanted.clone(), None);
    assert_eq!(
        decide(Some(&permanent), &wanted, Some(&me)),
        Ok(Decision::Unchanged)
    );
    let owned = found(wanted.clone(), Some(vec![dead]));
    assert_eq!(
        decide(Some(&owned), &wanted, None),
        Ok(Decision::MakePermanent)
    );
    assert_eq!(
        decide(Some(&owned), &wanted, Some(&me)),
        Ok(Decision::Own {
            add: Some(me),
            drop: vec![dead]
        })
    );
    let other = masq("10.0.0.0/24", Some("up0"));
    let e = decide(Some(&found(other.clone(), None)), &wanted, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot add 10.0.0.0/24: it is already masqueraded with out=up0 (natctl del it first to change that)"
    );
    assert_eq!(
        decide(Some(&found(other.clone(), Some(vec![dead]))), &wanted, None),
        Ok(Decision::TakeOver)
    );
    let e = decide(Some(&found(other, Some(vec![me]))), &wanted, None).unwrap_err();
    assert!(e.to_string().contains(&format!("owned by {me}")), "{e}");
    let p = publish("publish tcp 8080 -> 10.0.0.2:80");
    let e = decide(
        Some(&found(
            publish("publish tcp 8079-8081 -> 10.0.0.3:79-81"),
            None,
        )),
        &p,
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot publish tcp 8080: it is already published (publish tcp 8079-8081 -> 10.0.0.3:79-81 host=any; natctl unpublish it first)"
    );
}

#[test]
fn removing_lets_the_rule_go_with_its_last_live_owner() {
    let (me, pid, _) = me();
    let gone = owner(999_999_999, 1);
    let by_pid = |pid| Some(Leaving::Pid(pid));
    assert_eq!(decide_removal(None, None), Removal::Remove);
    assert_eq!(decide_removal(None, by_pid(5)), Removal::Permanent);
    assert_eq!(
        decide_removal(Some(&[me]), by_pid(pid + 1)),
        Removal::NotOwner
    );
    assert_eq!(
        decide_removal(Some(&[gone, me]), by_pid(pid)),
        Removal::Remove
    );
    assert_eq!(
        decide_removal(Some(&[gone, me]), by_pid(999_999_999)),
        Removal::DropOwner(vec![gone])
    );
}

/// A CNI attachment holds like a live process, whatever natctl sees: an
/// exited process's leaving keeps it, and the rule goes only when the
/// plugin lets go of the last attachment.
#[test]
fn attachments_hold_until_the_plugin_lets_go() {
    let (a, b) = (Owner::Attachment(1), Owner::Attachment(2));
    let gone = owner(999_999_999, 1);
    let exactly = |o| Some(Leaving::Owner(o));
    assert_eq!(
        decide_removal(Some(&[a, b]), exactly(a)),
        Removal::DropOwner(vec![a])
    );
    assert_eq!(
        decide_removal(Some(&[gone, a]), Some(Leaving::Pid(999_999_999))),
        Removal::DropOwner(vec![gone])
    );
    assert_eq!(
        decide_removal(Some(&[gone, b]), exactly(b)),
        Removal::Remove
    );
    assert_eq!(decide_removal(Some(&[a]), exactly(b)), Removal::NotOwner);
    assert_eq!(
        decide_removal(Some(&[a]), Some(Leaving::Pid(1))),
        Removal::NotOwner,
        "a PID never names an attachment"
    );
    let wanted = masq("10.0.0.0/24", None);
    let other = masq("10.0.0.0/24", Some("up0"));
    assert!(
        decide(Some(&found(other, Some(vec![gone, a]))), &wanted, None).is_err(),
        "an attachment's rule is never taken over"
    );
    assert_eq!(
        decide(
            Some(&found(wanted.clone(), Some(vec![gone, a]))),
            &wanted,
            Some(&b)
        ),
        Ok(Decision::Own {
            add: Some(b),
            drop: vec![gone]
        })
    );
    let entry = Entry {
        rule: wanted,
        backend: Backend::Nft,
        owners: vec![gone, a],
    };
    assert!(!entry.is_orphaned(), "natctl gc leaves it to the plugin");
    assert_eq!(
        entry.to_string(),
        "10.0.0.0/24 masquerade out=any backend=nft owners=999999999:1,cni:0000000000000001"
    );
}

#[test]
fn published_ports_collide_by_protocol_address_and_range() {
    let a = publish("publish tcp 8000-8010 -> 10.0.0.2:8000-8010");
    assert!(collides(&a, &publish("publish tcp 8010 -> 10.0.0.3:80")));
    assert!(!collides(&a, &publish("publish udp 8010 -> 10.0.0.3:80")));
    assert!(!collides(&a, &publish("publish tcp 8011 -> 10.0.0.3:80")));
    assert!(!collides(
        &a,
        &publish("publish tcp 8005 -> 10.0.0.3:80 host=198.51.100.2")
    ));
    assert!(!collides(
        &masq("10.0.0.0/24", None),
        &masq("10.0.0.0/25", None)
    ));
}

#[test]
fn a_dry_run_script_is_the_transactions_as_shell() {
    let mut plan = Plan::default();
    plan.push(
        "add 10.0.0.0/24 with nft",
        Step::Batch {
            family: Family::V4,
            ops: add_ops(&masq("10.0.0.0/24", None)),
        },
    );
    assert_eq!(
        plan.script(),
        "nft -f - <<'EOF'\n\
         add element ip nsnet nets { 10.0.0.0/24 . 10.0.0.0/24 }\n\
         add element ip nsnet masq { 10.0.0.0/24 . 10.0.0.0/24 }\n\
         EOF\n"
    );
    let t = Transaction {
        what: "x".into(),
        step: Step::Sysctl("/proc/sys/net/ipv4/conf/veth0/route_localnet".into()),
    };
    assert_eq!(
        t.script(),
        "echo 1 > /proc/sys/net/ipv4/conf/veth0/route_localnet"
    );
}

#[test]
fn backend_names_and_the_environment() {
    assert_eq!("nft".parse::<Choice>().unwrap(), Choice::Nft);
    assert_eq!(
        "pf".parse::<Choice>().unwrap_err().to_string(),
        "invalid backend 'pf': expected auto, nft or iptables"
    );
    assert_eq!(
        Choice::resolve(Some(Choice::Iptables)).unwrap(),
        Choice::Iptables
    );
}

#[test]
fn program_errors_become_one_line() {
    assert_eq!(
        failure_words(
            "Error: Could not process rule: No such file or directory\nadd rule x\n      ^^^\n"
        ),
        "Could not process rule: No such file or directory"
    );
    assert_eq!(
        failure_words("iptables-restore v1.8.9 (nf_tables): line 3: RULE_APPEND failed (No such file or directory): rule in chain X\nError occurred at line: 3\n"),
        "line 3: RULE_APPEND failed (No such file or directory): rule in chain X (input line 3)"
    );
    assert_eq!(
        failure_words("Operation not permitted (you must be root)\nnetlink: Error: cache initialization failed: Operation not permitted\n"),
        // Root is not told to run as root (run::plain_words).
        if crate::error::may_suggest_root() {
            "cache initialization failed: Operation not permitted (run as root or with CAP_NET_ADMIN)"
        } else {
            "cache initialization failed: Operation not permitted"
        }
    );
}

#[test]
fn check_out_refuses_what_a_rule_cannot_match_exactly() {
    for (name, c) in [
        ("eth*", "*"),
        ("eth+", "+"),
        ("!x", "!"),
        ("a\"b", "\\\""),
        ("a\\b", "\\\\"),
    ] {
        let e = check_out(&name.parse().unwrap()).unwrap_err();
        assert_eq!(e.kind(), crate::Kind::Usage);
        assert!(
            e.to_string()
                .contains(&format!("cannot match '{c}' exactly")),
            "{name}: {e}"
        );
    }
}
