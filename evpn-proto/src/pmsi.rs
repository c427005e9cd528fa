//! PMSI Tunnel attribute (RFC 6514 §5), as EVPN uses it on Inclusive
//! Multicast Ethernet Tag routes (RFC 7432 §11.2, RFC 8365 §5.1.3).
//!
//! ```text
//! +---------------------------------+
//! |  Flags (1 octet)                |   0x01 = Leaf Information Required
//! +---------------------------------+
//! |  Tunnel Type (1 octet)          |   6 = Ingress Replication
//! +---------------------------------+
//! |  MPLS Label (3 octets)          |   the VNI for VXLAN
//! +---------------------------------+
//! |  Tunnel Identifier (variable)   |
//! +---------------------------------+
//! ```
//!
//! For ingress replication the Tunnel Identifier is the unicast address of
//! the originating router (RFC 6514 §5, RFC 7432 §11.2): 4 or 16 octets, so
//! the attribute length is 9 or 21. Any other length, or one below the 5
//! fixed octets, is a [`PmsiError`] the caller turns into treat-as-withdraw
//! (RFC 7606 §7; GoBGP and FRR do the same). Other tunnel types are kept
//! with an opaque identifier.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::reader::{Reader, Short, WriteExt};
use crate::types::Label;

/// Tunnel Type code points (RFC 6514 §5, IANA "P-Multicast Service
/// Interface Tunnel (PMSI Tunnel) Tunnel Types").
pub mod tunnel_type {
    pub const NO_TUNNEL_INFO: u8 = 0;
    pub const RSVP_TE_P2MP: u8 = 1;
    pub const MLDP_P2MP: u8 = 2;
    pub const PIM_SSM: u8 = 3;
    pub const PIM_SM: u8 = 4;
    pub const BIDIR_PIM: u8 = 5;
    pub const INGRESS_REPLICATION: u8 = 6;
    pub const MLDP_MP2MP: u8 = 7;
}

/// The tunnel type together with the identifier it defines the form of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PmsiTunnelType {
    /// Type 6: BUM traffic is unicast to this endpoint (the remote VTEP).
    IngressReplication(IpAddr),
    /// Any other type, with its identifier verbatim. Decoding never yields
    /// `code == 6` here.
    Unknown { code: u8, tunnel_id: Vec<u8> },
}

impl PmsiTunnelType {
    /// The Tunnel Type octet.
    pub fn code(&self) -> u8 {
        match self {
            PmsiTunnelType::IngressReplication(_) => tunnel_type::INGRESS_REPLICATION,
            PmsiTunnelType::Unknown { code, .. } => *code,
        }
    }
}

/// A PMSI Tunnel attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PmsiTunnel {
    pub flags: u8,
    pub tunnel_type: PmsiTunnelType,
    pub label: Label,
}

/// Why a PMSI Tunnel value was rejected (treat-as-withdraw).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PmsiError {
    /// Fewer than the 5 fixed octets.
    #[error("PMSI tunnel: {0}")]
    Short(#[from] Short),
    /// Ingress replication with a tunnel identifier that is not an IPv4 or
    /// IPv6 address.
    #[error("PMSI tunnel: ingress replication with attribute length {len}, must be 9 or 21")]
    IngressReplicationLength { len: usize },
}

/// Flags + Tunnel Type + MPLS Label.
const FIXED_LEN: usize = 5;

impl PmsiTunnel {
    /// Flag bit: Leaf Information Required (RFC 6514 §5).
    pub const LEAF_INFO_REQUIRED: u8 = 0x01;

    /// The PMSI EVPN-over-VXLAN leaves send on their IMET route: ingress
    /// replication to `endpoint`, the label carrying the VNI, no flags.
    pub fn ingress_replication(label: Label, endpoint: IpAddr) -> Self {
        Self {
            flags: 0,
            tunnel_type: PmsiTunnelType::IngressReplication(endpoint),
            label,
        }
    }

    /// The replication endpoint, for ingress replication.
    pub fn endpoint(&self) -> Option<IpAddr> {
        match self.tunnel_type {
            PmsiTunnelType::IngressReplication(ip) => Some(ip),
            PmsiTunnelType::Unknown { .. } => None,
        }
    }

    /// Decode the attribute value (without the attribute header).
    pub fn read(buf: &[u8]) -> Result<PmsiTunnel, PmsiError> {
        let mut r = Reader::new(buf);
        let fixed = r.take(FIXED_LEN, "PMSI tunnel fixed fields")?;
        let flags = fixed[0];
        let code = fixed[1];
        let label = Label::from_raw(u32::from_be_bytes([0, fixed[2], fixed[3], fixed[4]]));
        let id = r.rest();
        let tunnel_type = match code {
            tunnel_type::INGRESS_REPLICATION => match id.len() {
                4 => PmsiTunnelType::IngressReplication(IpAddr::V4(Ipv4Addr::new(
                    id[0], id[1], id[2], id[3],
                ))),
                16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(id);
                    PmsiTunnelType::IngressReplication(IpAddr::V6(Ipv6Addr::from(a)))
                }
                _ => return Err(PmsiError::IngressReplicationLength { len: buf.len() }),
            },
            code => PmsiTunnelType::Unknown {
                code,
                tunnel_id: id.to_vec(),
            },
        };
        Ok(PmsiTunnel {
            flags,
            tunnel_type,
            label,
        })
    }

    /// Append the attribute value (without the attribute header).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_u8(self.flags);
        out.put_u8(self.tunnel_type.code());
        self.label.write(out);
        match &self.tunnel_type {
            PmsiTunnelType::IngressReplication(IpAddr::V4(a)) => out.extend_from_slice(&a.octets()),
            PmsiTunnelType::IngressReplication(IpAddr::V6(a)) => out.extend_from_slice(&a.octets()),
            PmsiTunnelType::Unknown { tunnel_id, .. } => out.extend_from_slice(tunnel_id),
        }
    }
}

/// `flags 0, ingress-replication, label 10100, endpoint 10.0.0.1` (the
/// label printed raw, i.e. as the VNI for VXLAN).
impl fmt::Display for PmsiTunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flags {:#04x}, ", self.flags)?;
        match &self.tunnel_type {
            PmsiTunnelType::IngressReplication(ip) => write!(
                f,
                "ingress-replication, label {}, endpoint {ip}",
                self.label.raw()
            ),
            PmsiTunnelType::Unknown { code, tunnel_id } => {
                write!(f, "tunnel-type {code}, label {}, id ", self.label.raw())?;
                for b in tunnel_id {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_replication_ipv4_from_rfc_layout() {
        // flags 0, type 6, label = VNI 10100 (0x002774), endpoint 192.0.2.1
        let buf = [0x00, 0x06, 0x00, 0x27, 0x74, 192, 0, 2, 1];
        let p = PmsiTunnel::read(&buf).unwrap();
        assert_eq!(
            p,
            PmsiTunnel::ingress_replication(
                Label::from_raw(10100),
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
            )
        );
        assert_eq!(p.label.vni().get(), 10100);
        let mut out = Vec::new();
        p.write(&mut out);
        assert_eq!(out, buf);
        assert_eq!(
            p.to_string(),
            "flags 0x00, ingress-replication, label 10100, endpoint 192.0.2.1"
        );
    }

    #[test]
    fn ingress_replication_ipv6_is_21_octets() {
        let mut buf = vec![0x01, 0x06, 0, 0, 100];
        buf.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        let p = PmsiTunnel::read(&buf).unwrap();
        assert_eq!(p.flags, PmsiTunnel::LEAF_INFO_REQUIRED);
        assert_eq!(p.endpoint(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn length_below_5_is_an_error() {
        assert!(matches!(
            PmsiTunnel::read(&[0, 6, 0, 0]),
            Err(PmsiError::Short(_))
        ));
        assert!(PmsiTunnel::read(&[]).is_err());
    }

    #[test]
    fn ingress_replication_length_other_than_9_or_21_is_an_error() {
        for len in [5, 8, 10, 13, 20, 22] {
            let mut buf = vec![0u8; len];
            buf[1] = 6;
            assert_eq!(
                PmsiTunnel::read(&buf),
                Err(PmsiError::IngressReplicationLength { len }),
                "length {len}"
            );
        }
    }

    #[test]
    fn other_tunnel_types_keep_their_identifier() {
        let buf = [0, 3, 0, 0, 0, 10, 0, 0, 1, 239, 1, 1, 1];
        let p = PmsiTunnel::read(&buf).unwrap();
        assert_eq!(
            p.tunnel_type,
            PmsiTunnelType::Unknown {
                code: tunnel_type::PIM_SSM,
                tunnel_id: vec![10, 0, 0, 1, 239, 1, 1, 1]
            }
        );
        let mut out = Vec::new();
        p.write(&mut out);
        assert_eq!(out, buf);
    }
}
