//! natctl's iptables backend reads nft-based iptables' tables in-process:
//! what it reads equals what `iptables-save` shows, in every state natctl
//! and its neighbours leave; and so an add, del, publish or unpublish
//! starts one program, the `iptables-restore` that applies it (two with
//! legacy iptables, which is read with `iptables-save`).

#[path = "support/natctl.rs"]
mod support;

use nsnet::nat::iptables::{self, IptState, CHAINS};
use nsnet::nat::Family;
use nsnet_lab::{lab, Lab};
use std::os::fd::AsFd;
use support::*;

/// natctl's chains read in-process in the lab's host; `None` when the
/// read leaves them to iptables-save.
fn read_here(lab: &Lab, family: Family) -> Option<IptState> {
    let ns = std::fs::File::open(lab.proc(lab.host_pid()).join("ns/net")).expect("the lab's netns");
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("entering the lab's netns");
            iptables::netlink::read(family).expect("the in-process read")
        })
        .join()
        .expect("the reading thread")
    })
}

/// What natctl makes of `iptables-save` (`ip6tables-save`) in the lab.
fn saved(lab: &Lab, family: Family) -> IptState {
    let save = match family {
        Family::V4 => "iptables-save",
        Family::V6 => "ip6tables-save",
    };
    IptState::parse(family, &lab.sh_ok(save))
}

/// The in-process read equals the parsed save, chain by chain.
fn assert_reads_as_saved(lab: &Lab, step: &str) {
    for family in [Family::V4, Family::V6] {
        let want = saved(lab, family);
        let got = read_here(lab, family)
            .unwrap_or_else(|| panic!("{step}: {family:?} left to iptables-save"));
        assert_eq!(
            got.forward_drops, want.forward_drops,
            "{step}: {family:?} FORWARD policy"
        );
        for c in CHAINS {
            assert_eq!(
                got.chain(&c),
                want.chain(&c),
                "{step}: {family:?} {} {}",
                c.table,
                c.name
            );
        }
        assert_eq!(got, want, "{step}: {family:?}");
    }
}

#[test]
fn the_in_process_read_is_what_iptables_save_shows() {
    let lab = lab!();
    let before = lab.snapshot();
    let ok = |script: &str| {
        lab.sh_ok(script);
    };
    // The tables as they were, for a restore at the end.
    ok("iptables-save > /run/saved4; ip6tables-save > /run/saved6");
    // natctl with these words, each line a run.
    let nat = |lines: &str| {
        for line in lines.lines() {
            let args: Vec<&str> = line.split_whitespace().collect();
            natctl(&lab, &args).expect_ok(&format!("natctl {line}"));
        }
    };
    assert_reads_as_saved(&lab, "nothing");
    ok("iptables -L >/dev/null; ip6tables -t nat -L >/dev/null");
    assert_reads_as_saved(&lab, "empty built-in tables");
    nat("add --backend iptables 10.0.0.0/24
         add --backend iptables --out up0 fd00:10::/64");
    assert_reads_as_saved(&lab, "two subnets");
    ok(NEIGHBOURS);
    assert_reads_as_saved(&lab, "Docker's rules and DROP policies");
    nat("publish --backend iptables 8080 10.0.0.2:80
         publish --backend iptables --udp --host fd00:10::1 5353 [fd00:10::2]:53
         add --backend iptables --owner 1 10.1.0.0/24
         add --backend iptables --owner 1 fd00:11::/64
         publish --backend iptables --owner 1 9000-9002 10.1.0.2:90-92");
    assert_reads_as_saved(&lab, "publishes and owners");
    // Other programs' rules before, between and after natctl's, with
    // comments of their own (some that look like natctl's, some quoted).
    for t in ["iptables", "ip6tables"] {
        ok(&format!(
            "{t} -I NSNET-FORWARD 1 -i ifb9 -m comment --comment 'xnsnet: not ours' -j DROP
             {t} -I NSNET-FORWARD 3 -o ifb9 -m comment --comment \"it's \\\"quoted\\\" and spaced\" -j ACCEPT
             {t} -A NSNET-FORWARD -m comment --comment 'nsnet:someone else' -j RETURN
             {t} -A NSNET-FORWARD -i ifb8 -j ACCEPT
             {t} -t nat -I NSNET-POSTROUTING 2 -o ifb9 -m comment --comment nsnet -j RETURN
             {t} -t nat -A NSNET-PREROUTING -p tcp --dport 1 -m comment --comment 'nsnet:publish tcp 1 ->' -j RETURN
             {t} -A NSNET-OWNERS -m comment --comment ' nsnet:leading space' -j RETURN
             {t} -I FORWARD 1 -i ifb9 -j DROP
             {t} -I FORWARD 3 -i ifb8 -j NSNET-FORWARD
             {t} -A FORWARD -m comment --comment 'a jump with a comment' -j NSNET-FORWARD
             {t} -A FORWARD -g NSNET-FORWARD
             {t} -t nat -A POSTROUTING -j NSNET-POSTROUTING
             {t} -t nat -I PREROUTING 1 -m addrtype --dst-type LOCAL -j NSNET-PREROUTING"
        ));
    }
    assert_reads_as_saved(&lab, "foreign rules among natctl's");
    // Rules made with nft in iptables' tables: a comment in the user data,
    // a bare jump without a counter.
    ok("nft add rule ip nat NSNET-POSTROUTING ip saddr 192.0.2.0/24 counter accept comment '\"nsnet:by nft\"'
        nft add rule ip6 filter FORWARD jump NSNET-FORWARD
        nft add rule ip filter NSNET-FORWARD counter accept comment '\"docker made this\"'");
    assert_reads_as_saved(&lab, "rules made with nft");
    nat("del 10.0.0.0/24 fd00:10::/64
         unpublish --udp --host fd00:10::1 5353");
    assert_reads_as_saved(&lab, "after del, chains kept by foreign rules");
    nat("flush");
    assert_reads_as_saved(&lab, "after flush");
    // A table iptables-nft would not show is left to iptables-save.
    ok("nft add chain ip filter other; nft add rule ip filter other ct state established accept");
    assert!(read_here(&lab, Family::V4).is_none());
    assert!(
        lab.sh_ok("iptables-save")
            .contains("# Table `filter' is incompatible"),
        "iptables-save shows no filter table then either"
    );
    assert!(
        read_here(&lab, Family::V6).is_some(),
        "IPv6 is another family"
    );
    ok(
        "iptables-restore < /run/saved4; ip6tables-restore < /run/saved6; rm /run/saved?
        nft delete table inet foreign",
    );
    forwarding_off(&lab);
    lab.assert_unchanged(&before);
}

/// The programs `natctl ARGS` executes (natctl itself aside), by name,
/// counted with strace; PATH as given.
fn children(lab: &Lab, path: &str, args: &[&str]) -> Vec<String> {
    let out = lab.run(
        &[
            &["env", "-u", "NATCTL_BACKEND", &format!("PATH={path}")][..],
            &[
                "strace",
                "-f",
                "-qq",
                "-e",
                "trace=execve",
                "-e",
                "signal=none",
            ],
            &["-o", "/run/execs", "natctl"],
            args,
        ]
        .concat(),
    );
    out.expect_ok(&format!("natctl {}", args.join(" ")));
    let trace = lab.sh_ok("cat /run/execs; rm /run/execs");
    let mut programs: Vec<String> = trace
        .lines()
        .filter(|l| l.contains("execve(\"") && l.ends_with("= 0"))
        .filter_map(|l| l.split('"').nth(1))
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        .collect();
    assert_eq!(
        programs.first().map(String::as_str),
        Some("natctl"),
        "{trace}"
    );
    programs.remove(0);
    programs
}

#[test]
fn add_del_publish_and_unpublish_start_one_program_each() {
    let lab = lab!();
    let c = container(&lab);
    lab.sh_ok(NEIGHBOURS);
    let before = lab.snapshot();
    let path = lab.sh_ok("echo -n $PATH");
    let one = |args: &[&str], program: &str| {
        assert_eq!(
            children(&lab, &path, args),
            [program],
            "natctl {}",
            args.join(" ")
        );
    };
    let v4 = "iptables-restore";
    let v6 = "ip6tables-restore";
    // The first add of a family makes natctl's chains; the next ones read
    // them.
    one(&["add", "--backend", "iptables", "10.0.0.0/24"], v4);
    one(
        &[
            "add",
            "--backend",
            "iptables",
            "--owner",
            "1",
            "10.9.0.0/24",
        ],
        v4,
    );
    one(&["add", "--backend", "iptables", "fd00:10::/64"], v6);
    one(&["add", "--backend", "iptables", "fd00:19::/64"], v6);
    one(
        &["publish", "--backend", "iptables", "8080", "10.0.0.2:80"],
        v4,
    );
    one(
        &[
            "publish",
            "--backend",
            "iptables",
            "8081",
            "[fd00:10::2]:80",
        ],
        v6,
    );
    assert_eq!(
        seen(&lab, &c, "tcp", nsnet_lab::SERVICE).unwrap(),
        nsnet_lab::UPLINK
    );
    one(&["unpublish", "8080"], v4);
    one(&["unpublish", "8081"], v6);
    one(&["del", "--owner", "1", "10.9.0.0/24"], v4);
    one(&["del", "fd00:19::/64"], v6);
    one(&["del", "10.0.0.0/24"], v4);
    one(&["del", "fd00:10::/64"], v6);
    forwarding_off(&lab);
    // Publishing to 10.0.0.2 let 127.0.0.1 be routed toward it, and
    // unpublishing leaves that on, as it leaves forwarding on.
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/conf/veth0/route_localnet");
    lab.assert_unchanged(&before);
}

#[test]
fn legacy_iptables_is_read_with_iptables_save() {
    let lab = lab!();
    let c = container(&lab);
    let before = lab.snapshot();
    // A host whose iptables is the legacy one: the same names, to
    // xtables-legacy-multi.
    let dir = "/run/legacy";
    lab.sh_ok(&format!(
        "mkdir -p {dir} && for t in iptables ip6tables; do for s in '' -save -restore; do \
           ln -s /usr/sbin/xtables-legacy-multi {dir}/$t$s; done; done"
    ));
    let path = format!("{dir}:{}", lab.sh_ok("echo -n $PATH"));
    let legacy = |args: &[&str]| children(&lab, &path, args);
    let save_then_restore = ["iptables-save", "iptables-restore"];
    assert_eq!(
        legacy(&["add", "--backend", "iptables", "10.0.0.0/24"]),
        save_then_restore
    );
    assert_eq!(
        legacy(&["add", "--backend", "iptables", "10.9.0.0/24"]),
        save_then_restore
    );
    assert_eq!(
        seen(&lab, &c, "tcp", nsnet_lab::SERVICE).unwrap(),
        nsnet_lab::UPLINK
    );
    assert!(
        lab.sh_ok("iptables-legacy-save -t nat")
            .contains("nsnet:10.9.0.0/24 masquerade"),
        "the rules are legacy iptables'"
    );
    assert_eq!(
        lab.sh_ok("iptables-nft-save -t nat | grep -c NSNET || true"),
        "0\n",
        "and not nft-based iptables'"
    );
    natctl_env(&lab, &["flush"], &[("PATH", &path)]).expect_ok("flush");
    lab.sh_ok(&format!(
        "rm -r {dir}; for t in iptables-legacy ip6tables-legacy; do \
           for table in filter nat; do $t -t $table -F; $t -t $table -X; done; done"
    ));
    forwarding_off(&lab);
    lab.assert_unchanged(&before);
}
