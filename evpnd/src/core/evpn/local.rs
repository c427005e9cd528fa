//! The local side of EVPN: MACs and ARP/ND entries the kernel learned on
//! this leaf, moves to and from it (RFC 7432 §15: sequence numbers, the
//! IPs to probe after a migration, purging what the kernel learned when a
//! host left), duplicate detection and the replay after a reload.

use super::*;

impl Evpn {
    // ---- local learning ---------------------------------------------------

    /// The VNI of a bridge FDB entry: by (bridge, VLAN) on the shared bridge
    /// of single-VXLAN-device mode, else by bridge (a bridge per VNI, with
    /// or without VLAN filtering).
    fn vni_of(&self, m: &netlink_glue::LocalMac) -> Option<Vni> {
        let name = &m.bridge.name;
        m.vlan
            .and_then(|v| self.by_bridge.get(&(name.clone(), Some(v))))
            .or_else(|| self.by_bridge.get(&(name.clone(), None)))
            .copied()
    }

    /// One kernel observation.
    pub fn observe(&mut self, o: Observation) {
        match o {
            Observation::LocalMacLearned(m) | Observation::LocalMacMoved { to: m, .. } => {
                match self.vni_of(&m) {
                    Some(vni) => self.local_mac(vni, m.mac, &m.port.name, m.is_static),
                    None => debug!(bridge = m.bridge.name, vlan = ?m.vlan, mac = %m.mac,
                        "local MAC on a bridge/VLAN that is no VNI of ours"),
                }
            }
            Observation::LocalMacAged(m) => {
                if let Some(vni) = self.vni_of(&m) {
                    self.local_mac_gone(vni, m.mac);
                }
            }
            Observation::LocalNeigh(n) => {
                use netlink_glue::Nud;
                let valid = !n.state.has(Nud::FAILED) && !n.state.has(Nud::INCOMPLETE);
                if let Some(vni) = self.by_svi.get(&n.dev.name).copied() {
                    self.local_neigh(vni, n.ip, n.mac.filter(|_| valid));
                }
            }
            Observation::LocalNeighGone { dev, ip } => {
                if let Some(vni) = self.by_svi.get(&dev.name).copied() {
                    self.local_neigh(vni, ip, None);
                }
            }
            Observation::Overrun => self.resync(),
            Observation::LocalState { macs, neighs } => self.local_state(macs, neighs),
            Observation::LinkChanged {
                dev, up, deleted, ..
            } => self.link_changed(&dev.name, up, deleted),
            // The VTEP address is configuration; the kernel refuses VXLAN
            // traffic from a missing local address on its own.
            Observation::AddrChanged { .. } => {}
        }
    }

    /// A MAC on a local port (new, moved between ports, or learned over our
    /// remote entry).
    fn local_mac(&mut self, vni: Vni, mac: Mac, port: &str, sticky: bool) {
        let Some(v) = self.l2.get_mut(&vni) else {
            return;
        };
        if v.cfg.gateway_mac() == Some(mac) || mac.is_zero() || mac.is_multicast() {
            return;
        }
        let st = v.macs.entry(mac).or_default();
        if let Some(l) = &mut st.local {
            // A move between local ports is not a mobility event (§15: only
            // a different ES/PE bumps the sequence number).
            let sticky_changed = l.sticky != sticky;
            l.port = port.to_string();
            l.sticky = sticky;
            if sticky_changed && !st.dad.is_frozen() {
                self.originate_mac(vni, mac);
            }
            return;
        }
        let winner = best(st.remote.values()).copied();
        if let Some(w) = winner {
            if w.sticky && !sticky {
                // §15.2: a sticky MAC must not move; the kernel entry is
                // static, so this is a race or a misbehaving host.
                warn!(%vni, %mac, vtep = %w.vtep, "local learn of a MAC that is sticky elsewhere: ignored");
                self.counters.sticky_conflicts += 1;
                return;
            }
        }
        st.local = Some(Box::new(LocalPort {
            port: port.to_string(),
            sticky,
        }));
        let pending = std::mem::take(&mut st.pending_ips);
        // Migration: the IPs the old leaf advertised with this MAC.
        let mut migrated: Vec<IpAddr> = Vec::new();
        let mut frozen = st.dad.is_frozen();
        if let Some(max) = st.remote_max_seq() {
            // §15.1: advertise with the highest remote sequence number + 1;
            // computed from the routes held now, never from a cached value
            // (a stale cache could advertise a number that loses).
            st.seq = next_seq(max).max(st.seq);
            migrated = st
                .remote
                .keys()
                .filter_map(|k| match k {
                    EvpnKey::MacIp { ip: Some(ip), .. } => Some(*ip),
                    _ => None,
                })
                .collect();
            migrated.sort();
            migrated.dedup();
            info!(%vni, %mac, seq = st.seq, "MAC learned here over remote routes: advertising with a higher sequence number");
            frozen = self.record_move(vni, mac, MoveReason::LocalLearnOverRemote);
        } else if let Some(r) = self.recent.remove(&(vni, mac)).filter(|r| {
            r.at.is_some_and(|at| self.now.saturating_duration_since(at) <= RECENT_HOLD)
        }) {
            // The old leaf withdrew before the VM resumed here (its port
            // went down first): still a move, with the IPs to probe.
            st.seq = next_seq(r.seq).max(st.seq);
            migrated = r.ips.into_iter().collect();
            info!(%vni, %mac, seq = st.seq, ips = ?migrated, "MAC learned here shortly after its remote routes were withdrawn: a move");
            frozen = self.record_move(vni, mac, MoveReason::LocalLearnOverRemote);
        }
        for ip in pending {
            self.bind_ip(vni, mac, ip);
        }
        self.program_mac(vni, mac, None);
        if !frozen {
            self.originate_mac(vni, mac);
        }
        // Drop the remote neighbour entries first, so the answers to the
        // probes create local entries (a NOARP entry would stay).
        for ip in &migrated {
            self.resolve_ip(vni, *ip);
        }
        let Some(v) = self.l2.get(&vni) else { return };
        // Every migrated IP is probed, also one still bound here from an
        // earlier stay: its kernel entry went away when the VM left.
        let probes: Vec<DataplaneRequest> = migrated
            .iter()
            .filter_map(|ip| {
                let from = v.cfg.gateway_for(*ip)?;
                Some(DataplaneRequest::Probe {
                    vni,
                    dev: v.cfg.svi().to_string(),
                    ip: *ip,
                    mac,
                    from,
                    from_mac: v.cfg.gateway_mac()?,
                })
            })
            .collect();
        for p in probes {
            self.counters.probes += 1;
            self.request(p);
        }
    }

    fn local_mac_gone(&mut self, vni: Vni, mac: Mac) {
        let Some(v) = self.l2.get_mut(&vni) else {
            return;
        };
        let Some(st) = v.macs.get_mut(&mac) else {
            return;
        };
        if st.local.take().is_none() {
            return;
        }
        let ips: Vec<IpAddr> = std::mem::take(&mut st.local_ips).into_iter().collect();
        let l3vni = v.cfg.l3vni;
        self.withdraw_rt2(vni, mac, None);
        for ip in ips {
            self.withdraw_rt2(vni, mac, Some(ip));
            if let Some(v) = self.l2.get_mut(&vni) {
                if let Some(is) = v.ips.get_mut(&ip) {
                    is.local_mac = None;
                    // The ARP entry may outlive the FDB entry: re-advertise
                    // if the MAC comes back.
                    is.pending = Some(mac);
                }
                if let Some(st) = v.macs.get_mut(&mac) {
                    st.pending_ips.insert(ip);
                }
            }
            if let Some(l3) = l3vni {
                self.local_hosts.remove(&(l3, ip));
                self.resolve_route(l3, host_net(ip));
            }
            self.resolve_ip(vni, ip);
        }
        self.resolve_mac(vni, mac);
    }

    /// Bind a local IP to a local MAC and advertise the MAC+IP route.
    fn bind_ip(&mut self, vni: Vni, mac: Mac, ip: IpAddr) {
        let Some(v) = self.l2.get_mut(&vni) else {
            return;
        };
        let l3vni = v.cfg.l3vni;
        let Some(st) = v.macs.get_mut(&mac) else {
            return;
        };
        st.local_ips.insert(ip);
        st.pending_ips.remove(&ip);
        let (seq, sticky, frozen) = (
            st.seq,
            st.local.as_ref().is_some_and(|l| l.sticky),
            st.dad.is_frozen(),
        );
        let is = v.ips.entry(ip).or_default();
        is.local_mac = Some(mac);
        is.pending = None;
        if !frozen {
            self.install_rt2(vni, mac, Some(ip), seq, sticky, false);
        }
        if let Some(l3) = l3vni {
            self.local_hosts.insert((l3, ip));
            self.resolve_route(l3, host_net(ip));
        }
    }

    /// An ARP/ND entry on an SVI: `mac` is `None` when it is gone or failed.
    fn local_neigh(&mut self, vni: Vni, ip: IpAddr, mac: Option<Mac>) {
        let Some(v) = self.l2.get_mut(&vni) else {
            return;
        };
        if v.cfg.is_gateway_ip(ip) || is_link_local(ip) || ip.is_multicast() {
            return;
        }
        let l3vni = v.cfg.l3vni;
        let is = v.ips.entry(ip).or_default();
        if mac.is_some() && is.local_mac == mac {
            return;
        }
        let old = is.local_mac.take();
        if let Some(pm) = is.pending.take() {
            if let Some(m) = v.macs.get_mut(&pm) {
                m.pending_ips.remove(&ip);
            }
        }
        if let Some(om) = old {
            if let Some(m) = v.macs.get_mut(&om) {
                m.local_ips.remove(&ip);
            }
            self.withdraw_rt2(vni, om, Some(ip));
            if let Some(l3) = l3vni {
                self.local_hosts.remove(&(l3, ip));
                self.resolve_route(l3, host_net(ip));
            }
        }
        if let Some(m) = mac {
            let local = self
                .l2
                .get(&vni)
                .and_then(|v| v.macs.get(&m))
                .is_some_and(|s| s.local.is_some());
            if local {
                self.bind_ip(vni, m, ip);
            } else if let Some(v) = self.l2.get_mut(&vni) {
                v.macs.entry(m).or_default().pending_ips.insert(ip);
                if let Some(is) = v.ips.get_mut(&ip) {
                    is.pending = Some(m);
                }
            }
        }
        self.resolve_ip(vni, ip);
    }

    /// The full local state after a (re-)dump: forget what is gone, learn
    /// what is new.
    fn local_state(
        &mut self,
        macs: Vec<netlink_glue::LocalMac>,
        neighs: Vec<netlink_glue::LocalNeigh>,
    ) {
        let mut seen: HashSet<(Vni, Mac)> = HashSet::new();
        for m in &macs {
            if let Some(vni) = self.vni_of(m) {
                seen.insert((vni, m.mac));
            }
        }
        let stale: Vec<(Vni, Mac)> = self
            .l2
            .iter()
            .flat_map(|(vni, v)| {
                v.macs
                    .iter()
                    .filter(|(_, s)| s.local.is_some())
                    .map(move |(m, _)| (*vni, *m))
            })
            .filter(|k| !seen.contains(k))
            .collect();
        for (vni, mac) in stale {
            self.local_mac_gone(vni, mac);
        }
        for m in macs {
            if let Some(vni) = self.vni_of(&m) {
                self.local_mac(vni, m.mac, &m.port.name, m.is_static);
            }
        }
        let mut seen_ip: HashSet<(Vni, IpAddr)> = HashSet::new();
        for n in &neighs {
            if let Some(vni) = self.by_svi.get(&n.dev.name) {
                seen_ip.insert((*vni, n.ip));
            }
        }
        let stale: Vec<(Vni, IpAddr)> = self
            .l2
            .iter()
            .flat_map(|(vni, v)| {
                v.ips
                    .iter()
                    .filter(|(_, s)| s.local_mac.is_some() || s.pending.is_some())
                    .map(move |(ip, _)| (*vni, *ip))
            })
            .filter(|k| !seen_ip.contains(k))
            .collect();
        for (vni, ip) in stale {
            self.local_neigh(vni, ip, None);
        }
        for n in neighs {
            self.observe(Observation::LocalNeigh(n));
        }
    }

    // ---- duplicate detection ----------------------------------------------

    /// Unfreeze a MAC (freeze timer or `evpnctl clear dad`) and decide
    /// again: a local MAC that lost meanwhile takes over with seq+1.
    pub fn unfreeze(&mut self, vni: Vni, mac: Mac) -> bool {
        let Some(st) = self.l2.get_mut(&vni).and_then(|v| v.macs.get_mut(&mac)) else {
            return false;
        };
        if !st.dad.is_frozen() {
            return false;
        }
        st.dad.clear();
        self.timer_ops.push(TimerOp::Cancel(vni, mac));
        info!(%vni, %mac, "duplicate MAC unfrozen");
        if st.local.is_some() {
            if let Some(max) = st.remote_max_seq() {
                if max >= st.seq {
                    st.seq = next_seq(max);
                }
            }
            self.originate_mac(vni, mac);
        }
        self.resolve_mac(vni, mac);
        true
    }

    /// Every frozen MAC, optionally of one VNI / one MAC.
    pub fn frozen(&self, vni: Option<Vni>, mac: Option<Mac>) -> Vec<(Vni, Mac)> {
        self.l2
            .iter()
            .filter(|(v, _)| vni.is_none_or(|x| x == **v))
            .flat_map(|(v, s)| {
                s.macs
                    .iter()
                    .filter(|(m, st)| st.dad.is_frozen() && mac.is_none_or(|x| x == **m))
                    .map(move |(m, _)| (*v, *m))
            })
            .collect()
    }

    /// The local facts, to replay into a rebuilt instance on reload.
    pub fn local_facts(&self) -> (Vec<LocalMacFact>, Vec<LocalNeighFact>) {
        let mut macs = Vec::new();
        let mut neighs = Vec::new();
        for v in self.l2.values() {
            for (m, s) in &v.macs {
                if let Some(l) = &s.local {
                    macs.push((
                        (v.cfg.bridge().to_string(), v.cfg.kernel.vlan),
                        *m,
                        l.port.clone(),
                        l.sticky,
                    ));
                }
            }
            for (ip, s) in &v.ips {
                if let Some(m) = s.local_mac.or(s.pending) {
                    neighs.push((v.cfg.svi().to_string(), *ip, m));
                }
            }
        }
        (macs, neighs)
    }

    /// Replay one local MAC / neighbour (reload).
    pub fn replay(&mut self, macs: Vec<LocalMacFact>, neighs: Vec<LocalNeighFact>) {
        for (at, mac, port, sticky) in macs {
            if let Some(vni) = self.by_bridge.get(&at).copied() {
                self.local_mac(vni, mac, &port, sticky);
            }
        }
        for (svi, ip, mac) in neighs {
            if let Some(vni) = self.by_svi.get(&svi).copied() {
                self.local_neigh(vni, ip, Some(mac));
            }
        }
    }
}
