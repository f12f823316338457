//! Bad input across every tool, as one table: bad interface names,
//! CIDRs, TARGETs and options, missing programs and missing permission.
//! Every row runs in one lab, one after the other, and must end with the
//! exit status the contract gives (docs/contract.md), nothing on stdout, exactly one `TOOL: ` line on
//! stderr naming the problem (no raw kernel or errno text), and the host as
//! it was: links, addresses, routes, firewall, mounts, processes, the
//! forwarding switches, and no trace of the command a wrapper was to run.
//! A failing run lists every row that misbehaved, not just the first.

use nsnet_lab::{lab, Lab, Out};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// What a row gets wrong, as the issue groups bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum What {
    Name,
    Cidr,
    Target,
    Options,
    Program,
    Permission,
}

/// Whom the tool runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Root,
    /// uid and gid 65534, no capabilities.
    Nobody,
    /// root, with CAP_NET_ADMIN gone from the bounding set.
    RootWithoutNetAdmin,
}

/// Something a row needs on the host first, and how it is removed after.
#[derive(Debug, Clone, Copy)]
struct Setup {
    make: &'static str,
    undo: &'static str,
}

/// One bad invocation and how the tool must answer it. Words in braces are
/// filled in when the row runs: `{holder}` a live container namespace's
/// PID, `{host}` the PID holding the lab host's own namespace, `{dead}` the
/// PID of a process that has exited, `{dir}` a scratch folder holding a
/// plain file `plain`, `{ran}` a file only a command that did run creates.
#[derive(Debug, Clone, Copy)]
struct Row {
    what: What,
    tool: &'static str,
    args: &'static [&'static str],
    status: i32,
    /// What the one line on stderr must contain.
    says: &'static str,
    who: Who,
    /// Programs missing from PATH (`name*` hides every name it begins).
    hide: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    stdin: Option<&'static str>,
    setup: Option<Setup>,
}

const fn row(
    what: What,
    tool: &'static str,
    args: &'static [&'static str],
    status: i32,
    says: &'static str,
) -> Row {
    Row {
        what,
        tool,
        args,
        status,
        says,
        who: Who::Root,
        hide: &[],
        env: &[],
        stdin: None,
        setup: None,
    }
}

impl Row {
    const fn nobody(self) -> Row {
        Row {
            who: Who::Nobody,
            ..self
        }
    }

    const fn without_net_admin(self) -> Row {
        Row {
            who: Who::RootWithoutNetAdmin,
            ..self
        }
    }

    const fn hiding(self, hide: &'static [&'static str]) -> Row {
        Row { hide, ..self }
    }

    const fn env(self, env: &'static [(&'static str, &'static str)]) -> Row {
        Row { env, ..self }
    }

    const fn stdin(self, text: &'static str) -> Row {
        Row {
            stdin: Some(text),
            ..self
        }
    }

    const fn after(self, setup: Setup) -> Row {
        Row {
            setup: Some(setup),
            ..self
        }
    }
}

// docs/contract.md, "Exit statuses".
const USAGE: i32 = 2;
const FAILED: i32 = 1;
/// nsrun's or netinit's own failure, usage errors included.
const WRAPPER: i32 = 125;
const CANNOT_EXECUTE: i32 = 126;
const NOT_FOUND: i32 = 127;

const NO_FIREWALL: &[&str] = &["nft", "iptables*", "ip6tables*", "xtables*"];

/// A pair vethup made, for rows that must leave it alone.
const PAIR: Setup = Setup {
    make: "vethup vv0 {holder}",
    undo: "vethdown vv0",
};

/// natctl's rules for 10.0.0.0/24, for rows that must leave them alone.
const NAT: Setup = Setup {
    make: "natctl add --backend nft 10.0.0.0/24",
    undo: "natctl del 10.0.0.0/24 && echo 0 > /proc/sys/net/ipv4/ip_forward",
};

/// natctl's rules for 10.0.0.0/24, owned by the lab's container holder.
const NAT_OWNED: Setup = Setup {
    make: "natctl add --owner {host} 10.0.0.0/24",
    undo: "natctl del 10.0.0.0/24 && echo 0 > /proc/sys/net/ipv4/ip_forward",
};

/// A published port, for rows that must leave it alone. The lab has no
/// interface toward 10.0.0.2, so no route_localnet is touched.
const PUBLISHED: Setup = Setup {
    make: "natctl publish 8080 10.0.0.2:80",
    undo: "natctl unpublish 8080 && echo 0 > /proc/sys/net/ipv4/ip_forward",
};

use What::*;

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // ---- interface names (docs/contract.md) ----
    row(Name, "vethup", &["sixteen-bytes-16", "{holder}"], USAGE,
        "invalid interface name 'sixteen-bytes-16': longer than 15 bytes"),
    row(Name, "vethup", &["a/b", "{holder}"], USAGE,
        "invalid interface name 'a/b': it contains '/'"),
    row(Name, "vethup", &["--ifname", "a:b", "v0", "{holder}"], USAGE,
        "invalid interface name 'a:b': it contains ':'"),
    row(Name, "vethup", &["a b", "{holder}"], USAGE,
        "invalid interface name 'a b': it contains whitespace"),
    row(Name, "vethup", &["--bridge", ".", "v0", "{holder}"], USAGE,
        "invalid interface name '.': '.' and '..' are not allowed"),
    row(Name, "vethup", &["", "{holder}"], USAGE, "invalid interface name '': it is empty"),
    row(Name, "vethup", &["up0", "{holder}"], FAILED,
        "cannot create up0: an interface with that name already exists"),
    row(Name, "vethup", &["--bridge", "up0", "v0", "{holder}"], FAILED,
        "up0 is a veth, not a bridge"),
    row(Name, "vethup", &["--ifname", "lo", "v0", "{holder}"], FAILED,
        "cannot create lo in the network namespace of PID {holder}: \
         an interface with that name already exists there"),
    row(Name, "vethup", &["--addr", "10.0.9.1/24", "v1", "{holder}"], FAILED,
        "cannot create eth0 in the network namespace of PID {holder}: \
         an interface with that name already exists there")
        .after(PAIR),
    row(Name, "vethdown", &[".."], USAGE,
        "invalid interface name '..': '.' and '..' are not allowed"),
    row(Name, "vethdown", &["--if-exists", "sixteen-bytes-16"], USAGE,
        "invalid interface name 'sixteen-bytes-16': longer than 15 bytes"),
    row(Name, "vethdown", &["-"], USAGE, "invalid interface name 'x:y': it contains ':'")
        .stdin("vv0\nx:y\n")
        .after(PAIR),
    row(Name, "vethdown", &["up0"], FAILED,
        "refusing to remove up0: vethup did not make it"),
    row(Name, "vethdown", &["vv0", "up0"], FAILED, "refusing to remove up0").after(PAIR),
    row(Name, "vethdown", &["--dry-run", "lo"], FAILED, "refusing to remove lo"),
    row(Name, "natctl", &["add", "10.0.0.0/24", "--out", "a b"], USAGE,
        "invalid interface name 'a b': it contains whitespace"),
    row(Name, "netinit", &["--iface", "sixteen-bytes-16", "10.0.0.2/24", "--", "touch", "{ran}"],
        WRAPPER, "invalid interface name 'sixteen-bytes-16': longer than 15 bytes"),
    row(Name, "netinit", &["--iface", "a/b", "10.0.0.2/24", "--", "touch", "{ran}"], WRAPPER,
        "invalid interface name 'a/b': it contains '/'"),
    row(Name, "netinit", &["--wait", "0", "--iface", "nosuch0", "10.0.0.2/24", "--", "touch", "{ran}"],
        WRAPPER, "nosuch0 did not appear within 0s"),
    // ---- addresses (docs/contract.md) ----
    row(Cidr, "vethup", &["--addr", "10.0.0.300/24", "v0", "{holder}"], USAGE,
        "invalid address '10.0.0.300/24': not an address with a prefix length"),
    row(Cidr, "vethup", &["--addr", "10.0.0.1", "v0", "{holder}"], USAGE,
        "invalid address '10.0.0.1': the prefix length is missing"),
    row(Cidr, "vethup", &["--addr", "10.0.0.0/24", "v0", "{holder}"], USAGE,
        "10.0.0.0 is the network address of 10.0.0.0/24, not a host"),
    row(Cidr, "vethup", &["--addr", "10.0.0.255/24", "v0", "{holder}"], USAGE,
        "10.0.0.255 is the broadcast address of 10.0.0.0/24, not a host"),
    row(Cidr, "vethup", &["--addr", "fd00::/64", "v0", "{holder}"], USAGE,
        "fd00:: is the network address of fd00::/64, not a host"),
    row(Cidr, "vethup", &["--addr", "10.0.0.1/24", "--addr", "10.0.0.1/24", "v0", "{holder}"],
        USAGE, "--addr 10.0.0.1 is given twice"),
    row(Cidr, "vethup", &["--addr", "198.51.100.2/24", "v0", "{holder}"], FAILED,
        "198.51.100.2 is already assigned to up0"),
    row(Cidr, "vethup", &["--bridge", "nsbr0", "--addr", "198.51.100.2/24", "v0", "{holder}"],
        FAILED, "cannot add 198.51.100.2/24 to nsbr0: 198.51.100.2 is already assigned to up0"),
    row(Cidr, "natctl", &["add", "10.0.0.1/24"], USAGE,
        "invalid subnet '10.0.0.1/24': host bits are set (did you mean 10.0.0.0/24?)"),
    row(Cidr, "natctl", &["add", "fd00:10::5/64"], USAGE,
        "host bits are set (did you mean fd00:10::/64?)"),
    row(Cidr, "natctl", &["add", "10.0.0/24"], USAGE,
        "invalid address '10.0.0/24': not an address with a prefix length"),
    row(Cidr, "natctl", &["add", "--dry-run", "10.0.0.0"], USAGE,
        "invalid address '10.0.0.0': the prefix length is missing"),
    row(Cidr, "natctl", &["del", "10.0.0.0/24", "10.0.0.5/24"], USAGE,
        "host bits are set (did you mean 10.0.0.0/24?)")
        .after(NAT),
    row(Cidr, "natctl", &["del", "-"], USAGE,
        "stdin line 2: invalid subnet '10.1.0.7/16': host bits are set (did you mean 10.1.0.0/16?)")
        .stdin("10.0.0.0/24\n10.1.0.7/16\n")
        .after(NAT),
    row(Cidr, "natctl", &["del", "10.9.0.0/24"], FAILED,
        "cannot delete 10.9.0.0/24: natctl has no rules for it"),
    row(Cidr, "netinit", &["10.0.0.0/24", "--", "touch", "{ran}"], WRAPPER,
        "10.0.0.0 is the network address of 10.0.0.0/24, not a host"),
    row(Cidr, "netinit", &["10.0.0.255/24", "--", "touch", "{ran}"], WRAPPER,
        "10.0.0.255 is the broadcast address of 10.0.0.0/24, not a host"),
    row(Cidr, "netinit", &["10.0.0.2/33", "--", "touch", "{ran}"], WRAPPER,
        "invalid address '10.0.0.2/33': not an address with a prefix length"),
    row(Cidr, "netinit", &["--iface", "up0", "--no-gateway", "203.0.113.7/24", "203.0.113.7/24",
        "--", "touch", "{ran}"], WRAPPER, "203.0.113.7 is given twice"),
    row(Cidr, "netinit", &["--iface", "up0", "--no-gateway", "198.51.100.2/24",
        "--", "touch", "{ran}"], WRAPPER, "cannot add 198.51.100.2/24 to up0"),
    // ---- addresses that make no sense (cidr::Purpose) ----
    row(Cidr, "vethup", &["--addr", "127.0.0.1/8", "v0", "{holder}"], USAGE,
        "invalid address '127.0.0.1/8': 127.0.0.1 is a loopback address"),
    row(Cidr, "vethup", &["--addr", "224.0.0.1/24", "v0", "{holder}"], USAGE,
        "224.0.0.1 is a multicast address"),
    row(Cidr, "vethup", &["--addr", "::1/128", "v0", "{holder}"], USAGE,
        "::1 is a loopback address"),
    row(Cidr, "vethup", &["--addr", "10.0.0.1/0", "v0", "{holder}"], USAGE,
        "a prefix length of 0 takes in every address"),
    row(Cidr, "vethup", &["--bridge", "nsbr0", "--addr", "0.0.0.0/24", "v0", "{holder}"], USAGE,
        "0.0.0.0 is the unspecified address"),
    row(Cidr, "netinit", &["127.0.0.2/8", "--", "touch", "{ran}"], WRAPPER,
        "127.0.0.2 is a loopback address"),
    row(Cidr, "netinit", &["ff02::2/64", "--", "touch", "{ran}"], WRAPPER,
        "ff02::2 is a multicast address"),
    row(Cidr, "netinit", &["10.0.0.2/1", "--", "touch", "{ran}"], WRAPPER,
        "its subnet 0.0.0.0/1 takes in 127.0.0.0/8, which is loopback"),
    row(Cidr, "netinit", &["0.0.0.0/0", "--", "touch", "{ran}"], WRAPPER,
        "0.0.0.0 is the unspecified address"),
    row(Cidr, "natctl", &["add", "0.0.0.0/0"], USAGE,
        "invalid subnet '0.0.0.0/0': a prefix length of 0 takes in every address"),
    row(Cidr, "natctl", &["add", "::/0"], USAGE, "a prefix length of 0 takes in every address"),
    row(Cidr, "natctl", &["add", "127.0.0.0/8"], USAGE, "127.0.0.0/8 is loopback"),
    row(Cidr, "natctl", &["add", "224.0.0.0/4"], USAGE, "224.0.0.0/4 is multicast"),
    row(Cidr, "natctl", &["add", "--dry-run", "169.254.0.0/16"], USAGE,
        "169.254.0.0/16 is link-local: link-local traffic is never forwarded"),
    row(Cidr, "natctl", &["add", "128.0.0.0/1"], USAGE,
        "it takes in 224.0.0.0/4, which is multicast"),
    // Removing still names any subnet: rules made before the check stay removable.
    row(Cidr, "natctl", &["del", "0.0.0.0/0"], FAILED,
        "cannot delete 0.0.0.0/0: natctl has no rules for it"),
    // ---- TARGETs ----
    row(Target, "vethup", &["v0", "{dead}"], FAILED,
        "cannot use the network namespace of PID {dead}: no such process"),
    row(Target, "vethup", &["--dry-run", "v0", "{dead}"], FAILED,
        "cannot use the network namespace of PID {dead}: no such process"),
    row(Target, "vethup", &["--bridge", "nsbr0", "v0", "{dead}"], FAILED,
        "cannot use the network namespace of PID {dead}: no such process"),
    row(Target, "vethup", &["v0", "/proc/{holder}/ns/user"], FAILED,
        "it is a user namespace, not a network namespace"),
    row(Target, "vethup", &["v0", "{dir}/plain"], FAILED,
        "it is a plain file, not a network namespace"),
    row(Target, "vethup", &["v0", "{dir}"], FAILED, "it is a directory, not a network namespace"),
    row(Target, "vethup", &["v0", "/proc/self/ns/mnt"], FAILED,
        "it is a mnt namespace, not a network namespace"),
    row(Target, "vethup", &["v0", "{host}"], FAILED,
        "it is this host's own network namespace"),
    row(Target, "vethup", &["v0", "/proc/self/ns/net"], FAILED,
        "it is this host's own network namespace"),
    row(Target, "vethup", &["v0", "nosuch"], FAILED,
        "the network namespace named nosuch: no such namespace in /run/netns"),
    row(Target, "vethup", &["v0", "/run/netns/nosuch"], FAILED,
        "the network namespace /run/netns/nosuch: no such file"),
    row(Target, "vethup", &["v0", "0"], USAGE, "invalid target '0': not a valid PID"),
    row(Target, "vethup", &["v0", ".."], USAGE,
        "invalid target '..': '.' and '..' are not namespace names"),
    row(Target, "netcheck", &["{dead}"], FAILED,
        "cannot use the network namespace of PID {dead}: no such process"),
    row(Target, "netcheck", &["{host}"], FAILED, "it is this host's own network namespace"),
    row(Target, "netcheck", &["{dir}/plain"], FAILED,
        "it is a plain file, not a network namespace"),
    row(Target, "netcheck", &["nosuch"], FAILED,
        "the network namespace named nosuch: no such namespace in /run/netns"),
    row(Target, "netcheck", &["0"], USAGE, "invalid target '0': not a valid PID"),
    // ---- options ----
    row(Options, "vethup", &["--bogus", "v0", "{holder}"], USAGE, "unexpected argument '--bogus'"),
    row(Options, "netcheck", &[], USAGE, "required arguments were not provided: <TARGET>"),
    row(Options, "netcheck", &["{holder}", "extra"], USAGE, "unexpected argument 'extra'"),
    row(Options, "netcheck", &["--dest", "a b", "{holder}"], USAGE,
        "invalid destination 'a b': neither an IP address nor a host name"),
    row(Options, "netcheck", &["--dest", "0.0.0.0", "{holder}"], USAGE,
        "invalid destination '0.0.0.0': not an address one can reach"),
    row(Options, "netcheck", &["--dest", "-x", "{holder}"], USAGE, "unexpected argument '-x'"),
    row(Name, "netcheck", &["--iface", "a/b", "{holder}"], USAGE,
        "invalid interface name 'a/b': it contains '/'"),
    row(Name, "netcheck", &["--iface", "sixteen-bytes-16", "{holder}"], USAGE,
        "invalid interface name 'sixteen-bytes-16': longer than 15 bytes"),
    row(Options, "vethup", &["v0"], USAGE, "required arguments were not provided: <TARGET>"),
    row(Options, "vethup", &["v0", "{holder}", "extra"], USAGE, "unexpected argument 'extra'"),
    row(Options, "vethup", &["v0", "{holder}", "--addr"], USAGE,
        "a value is required for '--addr <CIDR>'"),
    row(Options, "vethup", &["--mtu", "big", "v0", "{holder}"], USAGE, "invalid MTU 'big'"),
    row(Options, "vethup", &["--mtu", "70000", "v0", "{holder}"], USAGE, "invalid MTU '70000'"),
    row(Options, "vethup", &["--mtu", "-5", "v0", "{holder}"], USAGE, "invalid MTU '-5'"),
    row(Options, "vethup", &["--mtu", "1000", "--addr", "fd00::1/64", "v0", "{holder}"], USAGE,
        "--mtu 1000 is too small for the IPv6 address fd00::1/64"),
    row(Options, "vethdown", &[], USAGE, "required arguments were not provided: <HOSTIF>"),
    row(Options, "vethdown", &["--all", "v0"], USAGE, "'--all' cannot be used with"),
    row(Options, "vethdown", &["--force", "v0"], USAGE, "unexpected argument '--force'"),
    row(Options, "natctl", &[], USAGE,
        "no subcommand given (add, del, publish, unpublish, list, gc, flush)"),
    row(Options, "natctl", &["frob"], USAGE, "unrecognized subcommand 'frob'"),
    row(Options, "natctl", &["add"], USAGE, "required arguments were not provided: <SUBNET>"),
    row(Options, "natctl", &["del"], USAGE, "required arguments were not provided: <SUBNET>"),
    row(Options, "natctl", &["list", "extra"], USAGE, "unexpected argument 'extra'"),
    row(Options, "natctl", &["add", "10.0.0.0/24", "--backend", "pf"], USAGE,
        "invalid value 'pf' for '--backend <BACKEND>'"),
    row(Options, "natctl", &["add", "10.0.0.0/24"], USAGE,
        "invalid NATCTL_BACKEND: invalid backend 'pf'")
        .env(&[("NATCTL_BACKEND", "pf")]),
    row(Options, "natctl", &["add", "10.0.0.0/24", "--out"], USAGE,
        "a value is required for '--out <IFACE>'"),
    row(Options, "natctl", &["add", "10.0.0.0/24", "--out", "up0", "--out", "up0"], USAGE,
        "'--out <IFACE>' cannot be used multiple times"),
    row(Options, "natctl", &["add", "10.0.0.0/24", "--out", "nosuch0"], FAILED,
        "cannot use --out nosuch0: no such interface"),
    row(Options, "natctl", &["add", "10.0.0.0/24", "10.1.0.0/24"], USAGE,
        "unexpected argument '10.1.0.0/24'"),
    row(Options, "natctl", &["add", "--backend", "iptables", "10.0.0.0/24"], FAILED,
        "it is already masqueraded by the nft backend")
        .after(NAT),
    row(Options, "natctl", &["add", "--out", "up0", "10.0.0.0/24"], FAILED,
        "it is already masqueraded with out=any")
        .after(NAT),
    row(Options, "natctl", &["publish", "8080", "10.0.0.3:80"], FAILED,
        "cannot publish tcp 8080: it is already published (publish tcp 8080 -> 10.0.0.2:80 host=any")
        .after(PUBLISHED),
    row(Options, "natctl", &["publish", "8070-8090", "10.0.0.3:70-90"], FAILED,
        "it is already published (publish tcp 8080 -> 10.0.0.2:80 host=any")
        .after(PUBLISHED),
    row(Options, "natctl", &["publish", "0", "10.0.0.2:80"], USAGE,
        "invalid port '0': ports are 1 to 65535"),
    row(Options, "natctl", &["publish", "8080", "10.0.0.2:65536"], USAGE,
        "invalid destination '10.0.0.2:65536': invalid port '65536': ports are 1 to 65535"),
    row(Options, "natctl", &["publish", "65536", "10.0.0.2:80"], USAGE,
        "invalid port '65536': ports are 1 to 65535"),
    row(Options, "natctl", &["publish", "8000-8010", "10.0.0.2:80-85"], USAGE,
        "cannot map 8000-8010 to 80-85: ranges of different lengths (11 and 6 ports)"),
    row(Options, "natctl", &["publish", "8010-8000", "10.0.0.2:80"], USAGE,
        "invalid port range '8010-8000': 8010 is above 8000"),
    row(Options, "natctl", &["publish", "8080", "container:80"], USAGE,
        "invalid destination 'container:80': not an IP address"),
    row(Options, "natctl", &["publish", "8080", "10.0.0.2"], USAGE,
        "invalid destination '10.0.0.2': expected ADDRESS:PORT"),
    row(Options, "natctl", &["publish", "8080", "fd00::2:80"], USAGE,
        "write an IPv6 address in brackets, like [fd00::2]:80"),
    row(Options, "natctl", &["publish", "--host", "2001:db8:100::2", "8080", "10.0.0.2:80"], USAGE,
        "the host address and the destination are of different address families"),
    row(Options, "natctl", &["publish", "--owner", "{dead}", "8080", "10.0.0.2:80"], FAILED,
        "invalid owner {dead}: no such process"),
    row(Options, "natctl", &["add", "--owner", "{dead}", "10.0.0.0/24"], FAILED,
        "invalid owner {dead}: no such process"),
    row(Options, "natctl", &["unpublish", "--udp", "8080"], FAILED,
        "cannot delete udp 8080 host=any: natctl has no rules for it")
        .after(PUBLISHED),
    row(Options, "natctl", &["unpublish", "8080-8081"], FAILED,
        "cannot delete tcp 8080-8081 host=any: natctl has no rules for it")
        .after(PUBLISHED),
    row(Options, "natctl", &["del", "--owner", "{holder}", "10.0.0.0/24"], FAILED,
        "cannot delete 10.0.0.0/24 for owner {holder}: that process is not one of its owners")
        .after(NAT_OWNED),
    row(Options, "natctl", &["add", "-"], USAGE,
        "stdin line 1: invalid line 'publish tcp 80 -> 10.0.0.2:80 colour=red': unknown word colour=")
        .stdin("publish tcp 80 -> 10.0.0.2:80 colour=red\n"),
    row(Options, "nsrun", &["--", "touch", "{ran}"], WRAPPER, "no namespace given"),
    row(Options, "nsrun", &["--net"], WRAPPER, "required arguments were not provided: <COMMAND>"),
    row(Options, "nsrun", &["--net", "--hook", "touch {ran}", "--"], WRAPPER,
        "required arguments were not provided: <COMMAND>"),
    row(Options, "nsrun", &["--map-root", "--net", "--hook", "touch {ran}", "--", "touch", "{ran}"],
        WRAPPER, "--map-root needs --user"),
    row(Options, "nsrun", &["--bogus", "--net", "--", "touch", "{ran}"], WRAPPER,
        "unexpected argument '--bogus'"),
    row(Options, "nsrun", &["--hostname", "", "--", "touch", "{ran}"], WRAPPER,
        "invalid hostname '': it must be 1 to 64 bytes"),
    row(Options, "nsrun", &["--net", "--pid-file", "/nonexistent/dir/pid", "--", "touch", "{ran}"],
        WRAPPER, "cannot write the pid file /nonexistent/dir/pid: no such file or directory"),
    row(Options, "nsrun", &["--net", "--pid-file", "{dir}", "--", "touch", "{ran}"], WRAPPER,
        "cannot write the pid file {dir}: it is a directory, not a pid file"),
    row(Options, "nsrun", &["--net", "--pid-file", "{dir}/link", "--hook", "touch {ran}", "--",
        "touch", "{ran}"], WRAPPER,
        "cannot write the pid file {dir}/link: a symbolic link is there, which nsrun never \
         writes through")
        .after(Setup { make: "ln -s /dev/null {dir}/link", undo: "rm {dir}/link" }),
    row(Options, "nsrun", &["--net", "--pid-file", "{dir}/fifo", "--hook", "touch {ran}", "--",
        "touch", "{ran}"], WRAPPER, "cannot write the pid file {dir}/fifo: it is a FIFO")
        .after(Setup { make: "mkfifo {dir}/fifo", undo: "rm {dir}/fifo" }),
    // A lock file is never followed: no lock taken on, nor file made at,
    // the place a planted symlink points to.
    row(Options, "natctl", &["add", "10.0.0.0/24"], FAILED,
        "cannot lock /run/nsnet/natctl.lock: a symbolic link is there, which nsnet never follows (remove it)")
        .after(Setup {
            make: "mkdir -p /run/nsnet && ln -sfn {dir}/made /run/nsnet/natctl.lock",
            undo: "rm /run/nsnet/natctl.lock",
        }),
    row(Options, "vethup", &["v0", "{holder}"], FAILED,
        "cannot lock /run/nsnet/link.lock: a symbolic link is there, which nsnet never follows (remove it)")
        .after(Setup {
            make: "mkdir -p /run/nsnet && ln -sfn {dir}/made /run/nsnet/link.lock",
            undo: "rm /run/nsnet/link.lock",
        }),
    row(Options, "nsrun", &["--user", "--map-root", "--mount-proc", "--", "touch", "{ran}"],
        WRAPPER, "cannot mount a fresh /proc: operation not permitted (in a user namespace, \
                  /proc can only be mounted for a new PID namespace: add --pid)"),
    row(Options, "nsrun", &["--net", "--", "{dir}/nosuch"], NOT_FOUND,
        "cannot run {dir}/nosuch: command not found"),
    row(Options, "nsrun", &["--net", "--", "{dir}/plain"], CANNOT_EXECUTE,
        "cannot run {dir}/plain: permission denied"),
    row(Options, "nsrun", &["--net", "--", ""], NOT_FOUND, "cannot run '': command not found"),
    row(Options, "netinit", &["10.0.0.2/24", "touch", "{ran}"], WRAPPER,
        "missing '--' before the command"),
    row(Options, "netinit", &["10.0.0.2/24", "--"], WRAPPER, "no command given after '--'"),
    row(Options, "netinit", &["--", "touch", "{ran}"], WRAPPER, "no address given"),
    row(Options, "netinit", &["--gateway", "10.0.0.1", "--no-gateway", "10.0.0.2/24", "--", "touch",
        "{ran}"], WRAPPER, "'--gateway <IP>' cannot be used with '--no-gateway'"),
    row(Options, "netinit", &["--gateway", "192.168.1.1", "10.0.0.2/24", "--", "touch", "{ran}"],
        WRAPPER, "invalid gateway 192.168.1.1: outside every subnet of the container (10.0.0.0/24)"),
    row(Options, "netinit", &["--gateway", "fd00::1", "10.0.0.2/24", "--", "touch", "{ran}"],
        WRAPPER, "invalid gateway fd00::1: no IPv6 address is given"),
    row(Options, "netinit", &["--gateway", "10.0.0.1.5", "10.0.0.2/24", "--", "touch", "{ran}"],
        WRAPPER, "invalid value '10.0.0.1.5' for '--gateway <IP>'"),
    row(Options, "netinit", &["--dns", "bogus", "10.0.0.2/24", "--", "touch", "{ran}"], WRAPPER,
        "invalid value 'bogus' for '--dns <IP>'"),
    row(Options, "netinit", &["--search", "a b", "10.0.0.2/24", "--", "touch", "{ran}"], WRAPPER,
        "invalid search domain 'a b'"),
    row(Options, "netinit", &["--search", "a..b", "10.0.0.2/24", "--", "touch", "{ran}"], WRAPPER,
        "invalid search domain 'a..b': a label is empty"),
    row(Options, "netinit", &["--iface", "up0", "--gateway", "198.51.100.1", "198.51.100.9/24",
        "--", "touch", "{ran}"], WRAPPER,
        "cannot add the default route via 198.51.100.1 on up0: already exists"),
    row(Options, "netinit", &["--wait", "x", "10.0.0.2/24", "--", "touch", "{ran}"], WRAPPER,
        "invalid time 'x'"),
    row(Options, "netinit", &["--wait", "-1", "10.0.0.2/24", "--", "touch", "{ran}"], WRAPPER,
        "invalid time '-1'"),
    row(Options, "netinit", &["--mtu", "big", "10.0.0.2/24", "--", "touch", "{ran}"], WRAPPER,
        "invalid MTU 'big'"),
    row(Options, "netinit", &["--iface", "up0", "--mtu", "10", "198.51.100.9/24", "--", "touch",
        "{ran}"], WRAPPER, "invalid MTU '10'"),
    row(Options, "netinit", &["--wait", "0", "10.0.0.2/24", "--", "{dir}/nosuch"], NOT_FOUND,
        "cannot run {dir}/nosuch: command not found"),
    row(Options, "netinit", &["--wait", "0", "10.0.0.2/24", "--", "{dir}/plain"], CANNOT_EXECUTE,
        "cannot run {dir}/plain: permission denied"),
    row(Options, "netinit", &["--init", "--wait", "0", "10.0.0.2/24", "--", "nsnet-no-such-command"],
        NOT_FOUND, "cannot run nsnet-no-such-command: command not found"),
    // ---- missing programs (docs/contract.md) ----
    row(Program, "natctl", &["add", "10.0.0.0/24"], FAILED,
        "neither nft nor iptables is installed (install the nftables or iptables package)")
        .hiding(NO_FIREWALL),
    row(Program, "natctl", &["add", "--backend", "nft", "10.0.0.0/24"], FAILED,
        "cannot use the nft backend: nft is not installed (install the nftables package)")
        .hiding(&["nft"]),
    row(Program, "natctl", &["add", "--backend", "iptables", "10.0.0.0/24"], FAILED,
        "cannot use the iptables backend: iptables is not installed (install the iptables package)")
        .hiding(&["iptables*", "ip6tables*"]),
    row(Program, "natctl", &["del", "10.0.0.0/24"], FAILED, "neither nft nor iptables is installed")
        .hiding(NO_FIREWALL)
        .after(NAT),
    row(Program, "natctl", &["list"], FAILED, "neither nft nor iptables is installed")
        .hiding(NO_FIREWALL),
    row(Program, "natctl", &["flush"], FAILED, "neither nft nor iptables is installed")
        .hiding(NO_FIREWALL)
        .after(NAT),
    // ---- missing permission ----
    row(Permission, "vethup", &["v0", "{holder}"], FAILED,
        "cannot use the network namespace of PID {holder}: permission denied (run as root or with CAP_NET_ADMIN)")
        .nobody(),
    // Root without the capability is refused too, and not told to be root.
    row(Permission, "vethup", &["v0", "{holder}"], FAILED,
        "cannot create v0 with its peer eth0 in the network namespace of PID {holder}: \
         operation not permitted")
        .without_net_admin(),
    row(Permission, "vethdown", &["vv0"], FAILED,
        "cannot lock /run/nsnet/link.lock: permission denied (run as root or with CAP_NET_ADMIN)")
        .nobody()
        .after(PAIR),
    row(Permission, "vethdown", &["--all"], FAILED,
        "cannot remove vv0: operation not permitted")
        .without_net_admin()
        .after(PAIR),
    row(Permission, "natctl", &["add", "10.0.0.0/24"], FAILED,
        "cannot lock /run/nsnet/natctl.lock: permission denied")
        .nobody(),
    row(Permission, "natctl", &["add", "10.0.0.0/24"], FAILED,
        "cannot read nft table ip nsnet: operation not permitted")
        .without_net_admin(),
    row(Permission, "natctl", &["add", "--backend", "iptables", "10.0.0.0/24"], FAILED,
        "cannot read the iptables rules: operation not permitted")
        .without_net_admin(),
    row(Permission, "natctl", &["list"], FAILED,
        "cannot read nft table ip nsnet: operation not permitted (run as root or with CAP_NET_ADMIN)")
        .nobody(),
    row(Permission, "natctl", &["flush"], FAILED,
        "operation not permitted")
        .without_net_admin()
        .after(NAT),
    row(Permission, "natctl", &["publish", "8080", "10.0.0.2:80"], FAILED,
        "cannot read nft table ip nsnet: operation not permitted")
        .without_net_admin(),
    row(Permission, "natctl", &["gc"], FAILED,
        "cannot lock /run/nsnet/natctl.lock: permission denied (run as root or with CAP_NET_ADMIN)")
        .nobody()
        .after(PUBLISHED),
    row(Permission, "netcheck", &["{holder}"], FAILED,
        "cannot use the network namespace of PID {holder}: permission denied (run as root or with CAP_NET_ADMIN)")
        .nobody(),
    row(Permission, "nsrun", &["--net", "--hook", "touch {ran}", "--", "touch", "{ran}"], WRAPPER,
        "cannot create the namespaces: operation not permitted (run as root, or add --user --map-root)")
        .nobody(),
    row(Permission, "netinit", &["--iface", "up0", "198.51.100.9/24", "--", "touch", "{ran}"],
        WRAPPER, "cannot bring lo up: operation not permitted (run as root or with CAP_NET_ADMIN)")
        .nobody(),
    row(Permission, "netinit", &["--iface", "up0", "198.51.100.9/24", "--", "touch", "{ran}"],
        WRAPPER, "cannot bring lo up: operation not permitted")
        .without_net_admin(),
];

/// Raw text no message may show: the kernel's and Rust's own phrasing.
const RAW: &[&str] = &[
    "RTNETLINK",
    "os error",
    "Error:",
    "error:",
    "Errno",
    "answers:",
];

const TOOLS: [&str; 6] = [
    "nsrun", "vethup", "vethdown", "netinit", "natctl", "netcheck",
];

/// The statuses a tool may give for its own failure, by the contract.
fn statuses(tool: &str) -> &'static [i32] {
    match tool {
        "nsrun" | "netinit" => &[WRAPPER, CANNOT_EXECUTE, NOT_FOUND],
        _ => &[FAILED, USAGE],
    }
}

#[test]
fn the_table_covers_every_tool_and_every_kind_of_bad_input() {
    assert!(ROWS.len() >= 40, "only {} rows", ROWS.len());
    let mut per_tool: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_kind: BTreeMap<What, usize> = BTreeMap::new();
    for (i, r) in ROWS.iter().enumerate() {
        assert!(TOOLS.contains(&r.tool), "row {i}: unknown tool {}", r.tool);
        assert!(
            statuses(r.tool).contains(&r.status),
            "row {i}: {} never exits {}",
            r.tool,
            r.status
        );
        assert!(!r.says.is_empty(), "row {i} expects no words");
        *per_tool.entry(r.tool).or_default() += 1;
        *per_kind.entry(r.what).or_default() += 1;
    }
    for tool in TOOLS {
        assert!(per_tool.get(tool) >= Some(&5), "{tool}: {per_tool:?}");
    }
    for what in [Name, Cidr, Target, Options, Program, Permission] {
        assert!(per_kind.get(&what) >= Some(&5), "{what:?}: {per_kind:?}");
    }
    // Every illegal kind of name the contract lists, and both programs natctl needs.
    for name in ["sixteen-bytes-16", "a/b", "a:b", "a b", ".", ".."] {
        assert!(
            ROWS.iter()
                .any(|r| r.what == Name && r.args.contains(&name)),
            "no row for the name {name:?}"
        );
    }
    assert!(ROWS.iter().any(|r| r.hide == NO_FIREWALL));
    for who in [Who::Nobody, Who::RootWithoutNetAdmin] {
        assert!(ROWS.iter().any(|r| r.who == who), "{who:?}");
    }
}

/// A folder of symlinks to everything on `path` except the `hide`
/// programs: a PATH on which those programs are not installed.
fn path_without(path: &str, hide: &[&str], root: &Path) -> PathBuf {
    let dir = root.join(hide.join(",").replace('*', "_"));
    if dir.exists() {
        return dir;
    }
    std::fs::create_dir_all(&dir).expect("a folder for the PATH");
    let hidden = |name: &str| {
        hide.iter().any(|h| match h.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *h,
        })
    };
    for folder in std::env::split_paths(path) {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let link = dir.join(&name);
            if hidden(&name.to_string_lossy()) || link.symlink_metadata().is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), &link).expect("a symlink");
        }
    }
    for program in hide.iter().filter(|h| !h.ends_with('*')) {
        assert!(!dir.join(program).exists(), "{program} is still there");
    }
    dir
}

/// Removes the scratch folder of PATHs when the test ends, however it ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PID (as the lab sees it) of a process that has exited and been
/// reaped.
fn dead_pid(lab: &Lab) -> String {
    lab.sh_ok("sh -c 'echo $$'").trim().to_string()
}

/// What the rows may not change beyond the lab's snapshot: the forwarding
/// switches natctl turns on, the container's links, and the scratch folder
/// (where a command that ran would leave `ran`).
fn side_state(lab: &Lab, holder: i32, dir: &str) -> String {
    lab.sh_ok(&format!(
        "echo ip_forward=$(cat /proc/sys/net/ipv4/ip_forward); \
         echo ipv6_forwarding=$(cat /proc/sys/net/ipv6/conf/all/forwarding); \
         nsenter --net=/proc/{holder}/ns/net ip -o link show | sed 's/^/container: /'; \
         ls -A {dir} | sed 's/^/scratch: /'"
    ))
}

fn line_diff(before: &str, after: &str) -> String {
    let gone = before
        .lines()
        .filter(|l| !after.lines().any(|a| a == *l))
        .map(|l| format!("- {l}\n"));
    let new = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .map(|l| format!("+ {l}\n"));
    gone.chain(new).collect()
}

/// Sets a multi-line diff off under the item it belongs to.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      {l}\n")).collect()
}

fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            if !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,{}".contains(&b))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a prepared command with `input` (or nothing) on stdin.
fn output(mut cmd: std::process::Command, input: Option<&str>) -> Out {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting a row's command");
    let mut pipe = child.stdin.take().expect("stdin pipe");
    if let Some(text) = input {
        // A tool that refuses before reading may close the pipe first.
        let _ = pipe.write_all(text.as_bytes());
    }
    drop(pipe);
    let out = child
        .wait_with_output()
        .expect("waiting for a row's command");
    Out {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What is wrong with how a tool answered a row; empty when all is right.
fn judge(r: &Row, says: &str, out: &Out) -> Vec<String> {
    let mut wrong = Vec::new();
    if out.code() != r.status {
        wrong.push(format!("exit status {}, expected {}", out.code(), r.status));
    }
    if !out.stdout.is_empty() {
        wrong.push(format!("stdout is not empty: {:?}", out.stdout));
    }
    let lines: Vec<&str> = out.stderr.lines().collect();
    if lines.len() != 1 || !out.stderr.ends_with('\n') {
        wrong.push(format!("stderr is not exactly one line: {:?}", out.stderr));
    }
    let first = lines.first().copied().unwrap_or("");
    if !first.starts_with(&format!("{}: ", r.tool)) {
        wrong.push(format!("stderr does not start with '{}: '", r.tool));
    }
    if !out.stderr.contains(says) {
        wrong.push(format!("stderr does not say {says:?}"));
    }
    if r.who == Who::RootWithoutNetAdmin && out.stderr.contains("run as root") {
        wrong.push("stderr tells root to run as root".to_string());
    }
    for raw in RAW {
        if out.stderr.contains(raw) {
            wrong.push(format!("stderr shows raw text {raw:?}"));
        }
    }
    wrong
}

#[test]
fn bad_input_is_refused_in_one_line_with_the_right_status_and_no_change() {
    let lab = lab!();
    let holder = lab.netns_holder();
    let dir = "/run/nsnet-bad";
    lab.sh_ok(&format!(
        "mkdir -m 1777 {dir} && echo 'echo ran' > {dir}/plain && chmod 644 {dir}/plain"
    ));
    let scratch =
        Scratch(std::env::temp_dir().join(format!("nsnet-bad-input-{}", std::process::id())));
    let lab_path = format!(
        "{}:{}",
        nsnet_lab::bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dead = dead_pid(&lab);
    let fill = |text: &str| {
        text.replace("{holder}", &holder.pid().to_string())
            .replace("{host}", &lab.host_pid().to_string())
            .replace("{dead}", &dead)
            .replace("{dir}", dir)
            .replace("{ran}", &format!("{dir}/ran"))
    };

    let baseline = lab.snapshot();
    let side_baseline = side_state(&lab, holder.pid(), dir);
    let mut current = baseline.clone();
    let mut failures: Vec<String> = Vec::new();
    for (i, r) in ROWS.iter().enumerate() {
        let mut argv: Vec<String> = match r.who {
            Who::Root => vec![],
            Who::Nobody => [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ]
            .map(String::from)
            .to_vec(),
            Who::RootWithoutNetAdmin => [
                "setpriv",
                "--inh-caps=-all",
                "--bounding-set=-net_admin",
                "--",
            ]
            .map(String::from)
            .to_vec(),
        };
        argv.push(r.tool.to_string());
        argv.extend(r.args.iter().map(|a| fill(a)));
        let says = fill(r.says);
        let mut how = format!("{:?}", r.what).to_lowercase();
        match r.who {
            Who::Root => {}
            Who::Nobody => how.push_str(", as nobody"),
            Who::RootWithoutNetAdmin => how.push_str(", without CAP_NET_ADMIN"),
        }
        if !r.hide.is_empty() {
            how.push_str(&format!(", without {}", r.hide.join(" ")));
        }
        for (k, v) in r.env {
            how.push_str(&format!(", {k}={v}"));
        }
        if let Some(text) = r.stdin {
            how.push_str(&format!(", stdin {text:?}"));
        }
        if let Some(setup) = r.setup {
            how.push_str(&format!(", after `{}`", fill(setup.make)));
            // An earlier row's residue can make the setup fail: reported,
            // and the row skipped, so the other rows still run.
            let made = lab.sh(&fill(setup.make));
            if !made.ok() {
                failures.push(format!(
                    "#{i} {} ({how})\n  - the setup failed: {}",
                    shell_words(&argv),
                    made.stderr.trim_end()
                ));
                continue;
            }
        }
        let before = if r.setup.is_some() {
            lab.snapshot()
        } else {
            current.clone()
        };
        let side_before = side_state(&lab, holder.pid(), dir);

        let mut cmd = lab.command(&argv);
        cmd.env_remove("NATCTL_BACKEND");
        for (k, v) in r.env {
            cmd.env(k, v);
        }
        if !r.hide.is_empty() {
            cmd.env("PATH", path_without(&lab_path, r.hide, &scratch.0));
        }
        let out = output(cmd, r.stdin);

        let mut wrong = judge(r, &says, &out);
        let diff = before.diff(&lab.snapshot());
        if !diff.is_empty() {
            wrong.push(format!("the host changed:\n{}", indent(&diff)));
        }
        let side = line_diff(&side_before, &side_state(&lab, holder.pid(), dir));
        if !side.is_empty() {
            wrong.push(format!(
                "the host changed (forwarding, container, scratch folder):\n{}",
                indent(&side)
            ));
        }
        lab.sh(&format!("rm -f {dir}/ran"));
        if let Some(setup) = r.setup {
            let undone = lab.sh(&fill(setup.undo));
            if !undone.ok() {
                wrong.push(format!(
                    "undoing the setup failed: {}",
                    undone.stderr.trim_end()
                ));
            }
        }
        let after = lab.snapshot();
        if r.setup.is_some() {
            let undone = current.diff(&after);
            if !undone.is_empty() {
                wrong.push(format!("undoing the setup left:\n{}", indent(&undone)));
            }
        }
        current = after;
        if !wrong.is_empty() {
            failures.push(format!(
                "#{i} {} ({how})\n  stderr: {}\n  - {}",
                shell_words(&argv),
                out.stderr.trim_end(),
                wrong.join("\n  - ")
            ));
        }
    }
    let whole = baseline.diff(&lab.snapshot())
        + &line_diff(&side_baseline, &side_state(&lab, holder.pid(), dir));
    if !whole.is_empty() {
        failures.push(format!(
            "after the whole table, the host differs:\n{}",
            indent(&whole)
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad invocations were not answered as the contract says:\n\n{}\n",
        failures.len(),
        ROWS.len(),
        failures.join("\n\n")
    );
}
