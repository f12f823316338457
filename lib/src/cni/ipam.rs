//! Delegation to the IPAM plugin the configuration names (the CNI
//! specification's section 4): found in `CNI_PATH`, run with our own
//! environment and the very configuration we were given, its stderr ours,
//! its error passed on with its code.
//!
//! One liberty, for IPAM plugins older than the configuration: a plugin
//! that answers "incompatible CNI versions" (code 1) is asked again with
//! the next older version nsnet speaks (Debian's host-local knows 1.0.0 but
//! not 1.1.0; the addresses it hands out read the same in both). GC and
//! STATUS go to a plugin only when its VERSION says it speaks 1.1.0: see
//! [`Ipam::gc`] and [`Ipam::status`].

use super::config::Config;
use super::env::{Attachment, Command};
use super::error::{code, CniError};
use super::result::CniResult;
use super::version::Version;
use crate::run;
use std::path::{Path, PathBuf};

/// The IPAM plugin of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipam {
    path: PathBuf,
    name: String,
}

impl Ipam {
    /// The plugin `name` in the first folder of `cni_path` that has it.
    pub fn find(name: &str, cni_path: &[PathBuf]) -> Result<Ipam, CniError> {
        use std::os::unix::fs::PermissionsExt;
        cni_path
            .iter()
            .map(|dir| dir.join(name))
            .find(|p| {
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .map(|path| Ipam {
                path,
                name: name.to_string(),
            })
            .ok_or_else(|| {
                let dirs: Vec<String> = cni_path.iter().map(|d| d.display().to_string()).collect();
                CniError::new(
                    code::FAILED,
                    format!(
                        "cannot find the IPAM plugin {name:?} in CNI_PATH ({}) \
                         (is containernetworking-plugins installed?)",
                        if dirs.is_empty() {
                            "empty".to_string()
                        } else {
                            dirs.join(":")
                        }
                    ),
                )
            })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the plugin once: `command` for `attachment` (the one of our
    /// own environment when `None`), `raw` on stdin. Its stdout on
    /// success; its error, named, on failure.
    fn exec(
        &self,
        command: Command,
        attachment: Option<&Attachment>,
        raw: &[u8],
    ) -> Result<String, CniError> {
        let mut env: Vec<(&str, Option<&str>)> = vec![("CNI_COMMAND", Some(command.as_str()))];
        if let Some(a) = attachment {
            env.push(("CNI_CONTAINERID", Some(a.container.as_str())));
            env.push(("CNI_IFNAME", Some(a.ifname.as_str())));
            env.push(("CNI_NETNS", None));
        }
        let out = run::delegate(&self.path, &env, raw)
            .map_err(|e| CniError::new(code::FAILED, format!("IPAM plugin {}: {e}", self.name)))?;
        if out.success {
            return Ok(out.stdout);
        }
        Err(match serde_json::from_str::<CniError>(&out.stdout) {
            Ok(e) => CniError {
                msg: format!("IPAM plugin {}: {}", self.name, e.msg),
                ..e
            },
            Err(_) => CniError::new(
                code::FAILED,
                format!(
                    "IPAM plugin {} failed without saying why (its output: {:?})",
                    self.name,
                    out.stdout.trim()
                ),
            ),
        })
    }

    /// [`Ipam::exec`], and again with each older version while the plugin
    /// answers that it does not speak the configuration's.
    fn exec_negotiated(
        &self,
        command: Command,
        attachment: Option<&Attachment>,
        config: &Config,
    ) -> Result<String, CniError> {
        let first = self.exec(command, attachment, &config.raw);
        let mut error = match first {
            Err(e) if e.code == code::INCOMPATIBLE_VERSION => e,
            done => return done,
        };
        for older in Version::ALL.iter().rev().filter(|v| **v < config.version) {
            match self.exec(command, attachment, &with_version(&config.raw, *older)) {
                Err(e) if e.code == code::INCOMPATIBLE_VERSION => error = e,
                done => return done,
            }
        }
        Err(error)
    }

    /// ADD: the addresses, routes and DNS the plugin allots.
    pub fn add(&self, config: &Config) -> Result<CniResult, CniError> {
        let out = self.exec_negotiated(Command::Add, None, config)?;
        let value: serde_json::Value = serde_json::from_str(&out).map_err(|e| {
            CniError::new(
                code::DECODE_FAILURE,
                format!("IPAM plugin {} answered what is not JSON: {e}", self.name),
            )
        })?;
        let result = CniResult::from_value(&value).map_err(|e| {
            CniError::new(
                code::DECODE_FAILURE,
                format!(
                    "IPAM plugin {} answered what is not a result: {e}",
                    self.name
                ),
            )
        })?;
        if result.ips.is_empty() {
            return Err(CniError::new(
                code::FAILED,
                format!("IPAM plugin {} allotted no address", self.name),
            ));
        }
        Ok(result)
    }

    /// DEL: releases what the plugin allotted to `attachment` (ours when
    /// `None`).
    pub fn del(&self, config: &Config, attachment: Option<&Attachment>) -> Result<(), CniError> {
        self.exec_negotiated(Command::Del, attachment, config)
            .map(drop)
    }

    /// CHECK: the plugin still holds what it allotted.
    pub fn check(&self, config: &Config) -> Result<(), CniError> {
        self.exec_negotiated(Command::Check, None, config).map(drop)
    }

    /// Whether the plugin says, when asked its VERSION, that it speaks
    /// `version`.
    fn speaks(&self, version: Version) -> Result<bool, CniError> {
        let asked = serde_json::json!({"cniVersion": version.as_str()}).to_string();
        let out = self.exec(Command::Version, None, asked.as_bytes())?;
        let answer: serde_json::Value = serde_json::from_str(&out).map_err(|e| {
            CniError::new(
                code::DECODE_FAILURE,
                format!(
                    "IPAM plugin {} answered VERSION with what is not JSON: {e}",
                    self.name
                ),
            )
        })?;
        Ok(answer["supportedVersions"]
            .as_array()
            .is_some_and(|all| all.iter().any(|v| v.as_str() == Some(version.as_str()))))
    }

    /// GC, forwarded when the plugin speaks the configuration's version;
    /// nothing for a plugin that predates GC (the stale attachments the
    /// caller knows of are released one by one before).
    pub fn gc(&self, config: &Config) -> Result<(), CniError> {
        if self.speaks(config.version)? {
            self.exec(Command::Gc, None, &config.raw)?;
        }
        Ok(())
    }

    /// STATUS, forwarded when the plugin speaks the configuration's
    /// version; a plugin that predates STATUS is ready when it answers
    /// VERSION.
    pub fn status(&self, config: &Config) -> Result<(), CniError> {
        let unavailable = |e: CniError| CniError {
            code: code::NOT_AVAILABLE,
            ..e
        };
        if self.speaks(config.version).map_err(unavailable)? {
            self.exec(Command::Status, None, &config.raw).map(drop)
        } else {
            Ok(())
        }
    }
}

/// `raw` with its `cniVersion` replaced.
fn with_version(raw: &[u8], version: Version) -> Vec<u8> {
    let mut value: serde_json::Value =
        serde_json::from_slice(raw).expect("a configuration that was parsed before");
    value["cniVersion"] = version.as_str().into();
    value.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder with fake IPAM plugins, removed on drop.
    struct Plugins(PathBuf);

    impl Plugins {
        fn new(test: &str) -> Plugins {
            let dir =
                std::env::temp_dir().join(format!("nsnet-ipam-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Plugins(dir)
        }

        /// A plugin that logs `COMMAND VERSION CONTAINER/IFNAME` to `log`
        /// and runs `body` (shell, with the input in $in).
        fn add(&self, name: &str, body: &str) {
            let path = self.0.join(name);
            let log = self.0.join("log");
            crate::run::tests::write_script(
                &path,
                &format!(
                    "#!/bin/sh\nin=$(cat)\n\
                     v=$(printf '%s' \"$in\" | sed 's/.*\"cniVersion\":\"\\([^\"]*\\)\".*/\\1/')\n\
                     echo \"$CNI_COMMAND $v $CNI_CONTAINERID/$CNI_IFNAME ${{CNI_NETNS-nonetns}}\" >> {}\n{body}\n",
                    log.display()
                ),
            );
        }

        fn log(&self) -> String {
            std::fs::read_to_string(self.0.join("log")).unwrap_or_default()
        }
    }

    impl Drop for Plugins {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn config(version: &str) -> Config {
        let raw = format!(
            r#"{{"cniVersion":"{version}","name":"n","type":"nsnet","ipam":{{"type":"fake"}}}}"#
        );
        super::super::config::parse(raw.as_bytes()).unwrap()
    }

    /// Answers like Debian's host-local 1.1.1: 0.4.0 and 1.0.0 only, no
    /// GC or STATUS.
    const OLD: &str = r#"case "$CNI_COMMAND" in VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'; exit 0;; GC|STATUS) echo '{"code": 4, "msg": "unknown CNI_COMMAND: '$CNI_COMMAND'"}'; exit 1;; esac
case "$v" in 1.1.0) echo '{"code": 1, "msg": "incompatible CNI versions"}'; exit 1;; esac
case "$CNI_COMMAND" in ADD) echo '{"cniVersion":"'$v'","ips":[{"address":"10.1.0.2/24","gateway":"10.1.0.1"}],"dns":{}}';; esac"#;

    #[test]
    fn the_plugin_is_found_in_cni_path_in_order() {
        let first = Plugins::new("find1");
        let second = Plugins::new("find2");
        second.add("fake", "exit 0");
        std::fs::write(first.0.join("fake"), "not executable").unwrap();
        let ipam = Ipam::find("fake", &[first.0.clone(), second.0.clone()]).unwrap();
        assert_eq!(ipam.path(), second.0.join("fake"));
        let e = Ipam::find("ghost", std::slice::from_ref(&first.0)).unwrap_err();
        assert_eq!(e.code, code::FAILED);
        assert!(
            e.msg
                .starts_with("cannot find the IPAM plugin \"ghost\" in CNI_PATH ("),
            "{}",
            e.msg
        );
    }

    #[test]
    fn add_reads_the_allotment_and_an_older_plugin_is_asked_again() {
        let p = Plugins::new("add");
        p.add("fake", OLD);
        let ipam = Ipam::find("fake", std::slice::from_ref(&p.0)).unwrap();
        let result = ipam.add(&config("1.0.0")).unwrap();
        assert_eq!(result.ips[0].address.to_string(), "10.1.0.2/24");
        let result = ipam.add(&config("1.1.0")).unwrap();
        assert_eq!(result.ips[0].gateway.unwrap().to_string(), "10.1.0.1");
        let log = p.log();
        let tried: Vec<&str> = log.lines().map(|l| &l[..9]).collect();
        assert_eq!(tried, ["ADD 1.0.0", "ADD 1.1.0", "ADD 1.0.0"]);
    }

    #[test]
    fn errors_keep_their_code_and_say_which_plugin() {
        let p = Plugins::new("errors");
        p.add(
            "fake",
            r#"echo '{"code": 999, "msg": "invalid CIDR address: 10.66.0.0/33"}'; exit 1"#,
        );
        p.add("mute", "exit 1");
        p.add("empty", r#"echo '{"cniVersion":"1.0.0","dns":{}}'"#);
        let e = Ipam::find("fake", std::slice::from_ref(&p.0))
            .unwrap()
            .add(&config("1.0.0"))
            .unwrap_err();
        assert_eq!(e.code, 999);
        assert_eq!(
            e.msg,
            "IPAM plugin fake: invalid CIDR address: 10.66.0.0/33"
        );
        let e = Ipam::find("mute", std::slice::from_ref(&p.0))
            .unwrap()
            .add(&config("1.0.0"))
            .unwrap_err();
        assert_eq!(e.code, code::FAILED);
        assert!(e.msg.contains("failed without saying why"), "{}", e.msg);
        let e = Ipam::find("empty", std::slice::from_ref(&p.0))
            .unwrap()
            .add(&config("1.0.0"))
            .unwrap_err();
        assert_eq!(e.msg, "IPAM plugin empty allotted no address");
    }

    #[test]
    fn del_of_another_attachment_and_gc_and_status_of_an_old_plugin() {
        let p = Plugins::new("gc");
        p.add("fake", OLD);
        let ipam = Ipam::find("fake", std::slice::from_ref(&p.0)).unwrap();
        let c = config("1.1.0");
        let stale = Attachment {
            container: "old1".parse().unwrap(),
            ifname: "eth1".parse().unwrap(),
        };
        ipam.del(&c, Some(&stale)).unwrap();
        ipam.gc(&c).unwrap(); // an old plugin does not GC: the log has no GC
        ipam.status(&c).unwrap();
        assert_eq!(
            p.log(),
            "DEL 1.1.0 old1/eth1 nonetns\nDEL 1.0.0 old1/eth1 nonetns\n\
             VERSION 1.1.0 / nonetns\nVERSION 1.1.0 / nonetns\n"
        );
    }
}
