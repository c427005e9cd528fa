//! The ownership record: what evpnd owns that the kernel cannot mark.
//!
//! Sticky FDB entries (`sticky static`) cannot carry `NTF_EXT_LEARNED`, and
//! flood-list destinations share one flag word with the operator's, so a
//! dump cannot tell ours from an operator's; the VNIs and tables we manage
//! tell reconciliation where to look for our stale entries after a VNI was
//! removed from the configuration. Anycast-gateway addresses and macvlan
//! SVIs carry no owner mark either (IFA_PROTO is too new for the kernels we
//! support), so the ones we added are listed here and removed when the
//! configuration drops them; an operator's address or device is never
//! listed. The record is a small text file, written
//! atomically (temp file + rename) *before* the kernel write it covers, so a
//! crash between the two errs on the side of "ours" for an entry that may not
//! exist, never on "not ours" for one that does.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use evpn_proto::{Mac, Vni};
use ipnetwork::IpNetwork;

use crate::dataplane::Error;

/// Anycast-gateway addresses: (SVI name, address/prefix).
pub type GwAddrs = BTreeSet<(String, IpNetwork)>;
/// Macvlan SVIs: name → (bridge, gateway MAC).
pub type Macvlans = BTreeMap<String, (String, Mac)>;

/// Parsed ownership record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// L2/L3 VNIs whose devices we manage: VNI → (bridge, vxlan).
    pub vnis: BTreeMap<Vni, (String, String)>,
    /// Routing tables of our IP-VRFs: table → L3 VNI.
    pub tables: BTreeMap<u32, Vni>,
    /// Sticky remote MACs we wrote: (VNI, MAC).
    pub sticky: BTreeSet<(Vni, Mac)>,
    /// Flood-list destinations we wrote: (VNI, VTEP). The all-zero entry
    /// is one kernel object whose destinations share one flag word, so an
    /// operator's `bridge fdb append` rewrites the flags of ours and a flag
    /// cannot mark ownership; zebra writes these as plain `self permanent`.
    pub flood: BTreeSet<(Vni, IpAddr)>,
    /// Anycast-gateway addresses we added: (SVI name, address/prefix).
    pub gw_addrs: GwAddrs,
    /// Macvlan SVIs we created: name → (bridge, gateway MAC). The MAC is
    /// also the bridge's `self local` FDB entry that goes with it.
    pub macvlans: Macvlans,
}

impl Record {
    pub fn parse(text: &str) -> Result<Record, String> {
        let mut r = Record::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            let bad = || format!("line {}: cannot parse {line:?}", n + 1);
            match f.as_slice() {
                ["vni", v, br, vx] => {
                    r.vnis.insert(
                        v.parse().map_err(|_| bad())?,
                        (br.to_string(), vx.to_string()),
                    );
                }
                ["table", t, v] => {
                    r.tables
                        .insert(t.parse().map_err(|_| bad())?, v.parse().map_err(|_| bad())?);
                }
                ["flood", v, t] => {
                    r.flood
                        .insert((v.parse().map_err(|_| bad())?, t.parse().map_err(|_| bad())?));
                }
                ["sticky", v, m] => {
                    r.sticky
                        .insert((v.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?));
                }
                ["gwaddr", dev, a] => {
                    r.gw_addrs
                        .insert((dev.to_string(), a.parse().map_err(|_| bad())?));
                }
                ["macvlan", name, br, m] => {
                    r.macvlans.insert(
                        name.to_string(),
                        (br.to_string(), m.parse().map_err(|_| bad())?),
                    );
                }
                _ => return Err(bad()),
            }
        }
        Ok(r)
    }

    pub fn render(&self) -> String {
        let mut s = String::from(
            "# evpnd netlink-glue ownership record (entries the kernel cannot mark)\n",
        );
        for (v, (br, vx)) in &self.vnis {
            s.push_str(&format!("vni {v} {br} {vx}\n"));
        }
        for (t, v) in &self.tables {
            s.push_str(&format!("table {t} {v}\n"));
        }
        for (v, m) in &self.sticky {
            s.push_str(&format!("sticky {v} {m}\n"));
        }
        for (v, t) in &self.flood {
            s.push_str(&format!("flood {v} {t}\n"));
        }
        for (dev, a) in &self.gw_addrs {
            s.push_str(&format!("gwaddr {dev} {a}\n"));
        }
        for (name, (br, m)) in &self.macvlans {
            s.push_str(&format!("macvlan {name} {br} {m}\n"));
        }
        s
    }
}

/// The record plus the file it lives in.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    pub record: Record,
    written: Option<Record>,
}

impl StateFile {
    /// Loads the record; a missing file is an empty record (first start), an
    /// unreadable or corrupt one is an error (ownership would be unknown).
    pub fn load(path: &Path) -> Result<StateFile, Error> {
        let err = |reason: String| Error::StateFile {
            path: path.display().to_string(),
            reason,
        };
        let record = match fs::read_to_string(path) {
            Ok(text) => Record::parse(&text).map_err(err)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Record::default(),
            Err(e) => return Err(err(e.to_string())),
        };
        Ok(StateFile {
            path: path.to_path_buf(),
            written: Some(record.clone()),
            record,
        })
    }

    /// Writes the record if it changed since the last write.
    pub fn save(&mut self) -> Result<(), Error> {
        if self.written.as_ref() == Some(&self.record) {
            return Ok(());
        }
        let err = |e: std::io::Error| Error::StateFile {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        };
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = fs::File::create(&tmp).map_err(err)?;
            f.write_all(self.record.render().as_bytes()).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        fs::rename(&tmp, &self.path).map_err(err)?;
        self.written = Some(self.record.clone());
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_rejects_garbage() {
        let mut r = Record::default();
        r.vnis
            .insert(Vni::new(100).unwrap(), ("br100".into(), "vxlan100".into()));
        r.tables.insert(1000, Vni::new(5000).unwrap());
        r.sticky
            .insert((Vni::new(100).unwrap(), Mac([2, 0, 0, 0, 0, 0x5a])));
        r.flood
            .insert((Vni::new(100).unwrap(), "fd00::2".parse().unwrap()));
        r.gw_addrs
            .insert(("br100".into(), "fd00:1::1/64".parse().unwrap()));
        r.gw_addrs
            .insert(("agw200".into(), "10.2.0.1/24".parse().unwrap()));
        r.macvlans.insert(
            "agw200".into(),
            ("br200".into(), Mac([0, 0, 0x5e, 0, 1, 1])),
        );
        assert_eq!(Record::parse(&r.render()).unwrap(), r);
        assert!(Record::parse("gwaddr br100 10.1.0.1/33").is_err());
        assert!(Record::parse("sticky 100 not-a-mac").is_err());
        assert!(Record::parse("bogus").is_err());
    }

    #[test]
    fn save_is_atomic_and_load_of_missing_file_is_empty() {
        let dir = std::env::temp_dir().join(format!("nlg-state-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("owned");
        let _ = fs::remove_file(&path);
        let mut s = StateFile::load(&path).unwrap();
        assert_eq!(s.record, Record::default());
        s.record
            .sticky
            .insert((Vni::new(7).unwrap(), Mac([2, 0, 0, 0, 0, 1])));
        s.save().unwrap();
        assert!(!path.with_extension("tmp").exists());
        assert_eq!(StateFile::load(&path).unwrap().record, s.record);
        fs::remove_dir_all(&dir).unwrap();
    }
}
