//! What changed between two configs, for the SIGHUP / `evpnctl reload` log
//! and reply: one line per added, removed or changed neighbor, VNI, VRF and
//! top-level setting.

use std::collections::BTreeMap;
use std::fmt::Debug;

use crate::config::{Config, Neighbor};

/// Human-readable changes from `old` to `new`; empty when nothing changed.
pub fn diff(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let (og, ng) = (&old.global, &new.global);
    macro_rules! global {
        ($($field:ident),*) => {$(
            if og.$field != ng.$field {
                out.push(format!("~ {}: {:?} -> {:?}", stringify!($field), og.$field, ng.$field));
            }
        )*};
    }
    global!(
        router_id,
        asn,
        listen,
        cluster_id,
        hold_time,
        keepalive,
        connect_retry,
        vtep_address,
        vxlan_port,
        state_dir,
        advertise_default_gateway,
        api,
        metrics,
        log,
        graceful_restart,
        duplicate_detection
    );
    keyed(
        &mut out,
        "neighbor",
        &old.neighbors,
        &new.neighbors,
        neighbor_key,
    );
    keyed(&mut out, "vni", &old.vnis, &new.vnis, |v| v.vni.to_string());
    keyed(&mut out, "vrf", &old.vrfs, &new.vrfs, |v| v.name.clone());
    out
}

fn neighbor_key(n: &Neighbor) -> String {
    match (&n.address, &n.range) {
        (Some(a), _) => a.0.to_string(),
        (None, Some(r)) => r.0.to_string(),
        (None, None) => "?".into(),
    }
}

fn keyed<T: Debug + PartialEq>(
    out: &mut Vec<String>,
    what: &str,
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> String,
) {
    let o: BTreeMap<String, &T> = old.iter().map(|x| (key(x), x)).collect();
    let n: BTreeMap<String, &T> = new.iter().map(|x| (key(x), x)).collect();
    for (k, v) in &o {
        match n.get(k) {
            None => out.push(format!("- {what} {k}")),
            Some(nv) if nv != v => out.push(format!("~ {what} {k}: {v:?} -> {nv:?}")),
            Some(_) => {}
        }
    }
    for k in n.keys() {
        if !o.contains_key(k) {
            out.push(format!("+ {what} {k}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(s: &str) -> Config {
        Config::parse(Path::new("t.toml"), s).unwrap()
    }

    #[test]
    fn added_removed_and_changed_neighbors_are_listed() {
        let a = parse(
            "router_id = \"10.0.0.1\"\nasn = 65000\n\
             [[neighbor]]\naddress = \"10.0.0.2\"\nremote_as = 65000\n\
             [[neighbor]]\naddress = \"10.0.0.3\"\nremote_as = 65000\n",
        );
        let b = parse(
            "router_id = \"10.0.0.1\"\nasn = 65000\nhold_time = 30\n\
             [[neighbor]]\naddress = \"10.0.0.2\"\nremote_as = 65001\n\
             [[neighbor]]\naddress = \"10.0.0.4\"\nremote_as = 65000\n",
        );
        let d = diff(&a, &b);
        assert_eq!(d.len(), 4, "{d:#?}");
        assert_eq!(d[0], "~ hold_time: 90 -> 30");
        assert!(d[1].starts_with("~ neighbor 10.0.0.2: "), "{}", d[1]);
        assert_eq!(d[2], "- neighbor 10.0.0.3");
        assert_eq!(d[3], "+ neighbor 10.0.0.4");
        assert!(diff(&a, &a).is_empty());
    }
}
