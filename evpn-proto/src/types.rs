//! Newtypes shared by every message: address families, MAC, VNI, RD, ESI, label.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::reader::{Reader, Short, WriteExt};

/// Address Family Identifier (IANA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Afi {
    Ipv4,
    Ipv6,
    /// RFC 4761: L2VPN, used by EVPN.
    L2vpn,
    Unknown(u16),
}

impl From<u16> for Afi {
    fn from(v: u16) -> Self {
        match v {
            1 => Afi::Ipv4,
            2 => Afi::Ipv6,
            25 => Afi::L2vpn,
            v => Afi::Unknown(v),
        }
    }
}

impl From<Afi> for u16 {
    fn from(a: Afi) -> u16 {
        match a {
            Afi::Ipv4 => 1,
            Afi::Ipv6 => 2,
            Afi::L2vpn => 25,
            Afi::Unknown(v) => v,
        }
    }
}

/// Subsequent Address Family Identifier (IANA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Safi {
    Unicast,
    /// RFC 7432.
    Evpn,
    Unknown(u8),
}

impl From<u8> for Safi {
    fn from(v: u8) -> Self {
        match v {
            1 => Safi::Unicast,
            70 => Safi::Evpn,
            v => Safi::Unknown(v),
        }
    }
}

impl From<Safi> for u8 {
    fn from(s: Safi) -> u8 {
        match s {
            Safi::Unicast => 1,
            Safi::Evpn => 70,
            Safi::Unknown(v) => v,
        }
    }
}

/// The address families evpnd speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
    /// L2VPN EVPN, AFI 25 / SAFI 70.
    Evpn,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::Ipv4Unicast, Family::Ipv6Unicast, Family::Evpn];

    pub fn afi(self) -> Afi {
        match self {
            Family::Ipv4Unicast => Afi::Ipv4,
            Family::Ipv6Unicast => Afi::Ipv6,
            Family::Evpn => Afi::L2vpn,
        }
    }

    pub fn safi(self) -> Safi {
        match self {
            Family::Ipv4Unicast | Family::Ipv6Unicast => Safi::Unicast,
            Family::Evpn => Safi::Evpn,
        }
    }

    pub fn from_afi_safi(afi: Afi, safi: Safi) -> Option<Family> {
        match (afi, safi) {
            (Afi::Ipv4, Safi::Unicast) => Some(Family::Ipv4Unicast),
            (Afi::Ipv6, Safi::Unicast) => Some(Family::Ipv6Unicast),
            (Afi::L2vpn, Safi::Evpn) => Some(Family::Evpn),
            _ => None,
        }
    }

    /// Short names used in config files and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4Unicast => "ipv4",
            Family::Ipv6Unicast => "ipv6",
            Family::Evpn => "evpn",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Family {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ipv4" | "ipv4-unicast" => Ok(Family::Ipv4Unicast),
            "ipv6" | "ipv6-unicast" => Ok(Family::Ipv6Unicast),
            "evpn" | "l2vpn-evpn" => Ok(Family::Evpn),
            _ => Err(format!(
                "unknown address family {s:?} (expected ipv4, ipv6 or evpn)"
            )),
        }
    }
}

/// An IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const ZERO: Mac = Mac([0; 6]);

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
    /// Group bit set: multicast or broadcast (never a host).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for o in out.iter_mut() {
            let p = parts.next().ok_or_else(|| format!("bad MAC {s:?}"))?;
            if p.is_empty() || p.len() > 2 {
                return Err(format!("bad MAC {s:?}"));
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| format!("bad MAC {s:?}"))?;
        }
        if parts.next().is_some() {
            return Err(format!("bad MAC {s:?}"));
        }
        Ok(Mac(out))
    }
}

/// A 24-bit VXLAN Network Identifier (RFC 7348). Constructed only in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vni(u32);

impl Vni {
    pub const MAX: u32 = 0x00ff_ffff;

    pub fn new(v: u32) -> Option<Vni> {
        (v <= Self::MAX).then_some(Vni(v))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Vni {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: u32 = s.parse().map_err(|_| format!("bad VNI {s:?}"))?;
        Vni::new(v).ok_or_else(|| format!("VNI {v} out of range 0..=16777215"))
    }
}

/// A 3-octet MPLS label field as carried in EVPN NLRI.
///
/// For VXLAN (RFC 8365 §5.1.3) the whole 24 bits carry the VNI, so the value
/// is kept raw; [`Label::vni`] reads it as a VNI, [`Label::mpls`] as an MPLS
/// label (high 20 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Label(u32);

impl Label {
    pub fn from_raw(v: u32) -> Label {
        Label(v & 0x00ff_ffff)
    }
    pub fn from_vni(v: Vni) -> Label {
        Label(v.get())
    }
    pub fn raw(self) -> u32 {
        self.0
    }
    pub fn vni(self) -> Vni {
        Vni(self.0)
    }
    pub fn mpls(self) -> u32 {
        self.0 >> 4
    }
    pub fn read(r: &mut Reader<'_>) -> Result<Label, Short> {
        r.u24("label").map(Label)
    }
    /// The 3 wire octets, big-endian.
    #[inline]
    pub fn from_bytes(b: [u8; 3]) -> Label {
        Label(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
    pub fn write(self, out: &mut Vec<u8>) {
        out.put_u24(self.0);
    }
}

/// Route Distinguisher (RFC 4364 §4.2), 8 octets: type (2) + value (6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rd {
    /// Type 0: 2-octet ASN : 4-octet number.
    As2 { asn: u16, number: u32 },
    /// Type 1: IPv4 address : 2-octet number (EVPN auto-RD: router-id:index).
    Ip { ip: Ipv4Addr, number: u16 },
    /// Type 2: 4-octet ASN : 2-octet number.
    As4 { asn: u32, number: u16 },
    /// Any other type, kept verbatim.
    Unknown { typ: u16, value: [u8; 6] },
}

impl Rd {
    pub const LEN: usize = 8;

    pub fn read(r: &mut Reader<'_>) -> Result<Rd, Short> {
        r.array("RD").map(Rd::from_bytes)
    }

    /// Interpret the 8 wire octets; every value is some RD.
    ///
    /// One big-endian 64-bit load and shifts: this runs once per EVPN
    /// NLRI, and field-by-field byte assembly cost several times as many
    /// instructions.
    #[inline]
    pub fn from_bytes(b: [u8; 8]) -> Rd {
        let x = u64::from_be_bytes(b);
        match (x >> 48) as u16 {
            0 => Rd::As2 {
                asn: (x >> 32) as u16,
                number: x as u32,
            },
            1 => Rd::Ip {
                ip: Ipv4Addr::from_bits((x >> 16) as u32),
                number: x as u16,
            },
            2 => Rd::As4 {
                asn: (x >> 16) as u32,
                number: x as u16,
            },
            typ => {
                let [_, _, value @ ..] = b;
                Rd::Unknown { typ, value }
            }
        }
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Rd::As2 { asn, number } => {
                out.put_u16(0);
                out.put_u16(asn);
                out.put_u32(number);
            }
            Rd::Ip { ip, number } => {
                out.put_u16(1);
                out.extend_from_slice(&ip.octets());
                out.put_u16(number);
            }
            Rd::As4 { asn, number } => {
                out.put_u16(2);
                out.put_u32(asn);
                out.put_u16(number);
            }
            Rd::Unknown { typ, value } => {
                out.put_u16(typ);
                out.extend_from_slice(&value);
            }
        }
    }
}

impl fmt::Display for Rd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rd::As2 { asn, number } => write!(f, "{asn}:{number}"),
            Rd::Ip { ip, number } => write!(f, "{ip}:{number}"),
            Rd::As4 { asn, number } => write!(f, "{asn}:{number}"),
            Rd::Unknown { typ, value } => {
                write!(f, "type{typ}:")?;
                for b in value {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Rd {
    type Err = String;
    /// `A.B.C.D:N` → type 1; `ASN:N` → type 0 when ASN fits 16 bits, else type 2.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (l, r) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("bad RD {s:?}: expected ASN:N or IP:N"))?;
        if let Ok(ip) = l.parse::<Ipv4Addr>() {
            let number = r
                .parse()
                .map_err(|_| format!("bad RD {s:?}: number must fit 16 bits"))?;
            return Ok(Rd::Ip { ip, number });
        }
        let asn: u32 = l.parse().map_err(|_| format!("bad RD {s:?}"))?;
        if let Ok(asn) = u16::try_from(asn) {
            let number = r
                .parse()
                .map_err(|_| format!("bad RD {s:?}: number must fit 32 bits"))?;
            Ok(Rd::As2 { asn, number })
        } else {
            let number = r
                .parse()
                .map_err(|_| format!("bad RD {s:?}: number must fit 16 bits with a 4-octet ASN"))?;
            Ok(Rd::As4 { asn, number })
        }
    }
}

/// Ethernet Segment Identifier (RFC 7432 §5), 10 octets: type (1) + value (9).
///
/// Types 0–5 are defined; an ESI is an opaque key for matching, so other
/// types are kept, not rejected.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Esi(pub [u8; 10]);

impl Esi {
    pub const ZERO: Esi = Esi([0; 10]);
    /// MAX-ESI (all ones), reserved (RFC 7432 §5).
    pub const MAX: Esi = Esi([0xff; 10]);
    pub const LEN: usize = 10;

    pub fn esi_type(&self) -> u8 {
        self.0[0]
    }
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 10]
    }
    pub fn read(r: &mut Reader<'_>) -> Result<Esi, Short> {
        r.array("ESI").map(Esi)
    }
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl fmt::Display for Esi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Esi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Esi({self})")
    }
}

impl FromStr for Esi {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 10];
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 10 {
            return Err(format!("bad ESI {s:?}: expected 10 hex octets"));
        }
        for (o, p) in out.iter_mut().zip(parts) {
            *o = u8::from_str_radix(p, 16).map_err(|_| format!("bad ESI {s:?}"))?;
        }
        Ok(Esi(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rd_text_forms_pick_the_type() {
        assert_eq!(
            "10.0.0.1:100".parse::<Rd>().unwrap(),
            Rd::Ip {
                ip: Ipv4Addr::new(10, 0, 0, 1),
                number: 100
            }
        );
        assert_eq!(
            "65000:7".parse::<Rd>().unwrap(),
            Rd::As2 {
                asn: 65000,
                number: 7
            }
        );
        assert_eq!(
            "4200000000:7".parse::<Rd>().unwrap(),
            Rd::As4 {
                asn: 4_200_000_000,
                number: 7
            }
        );
        assert!("4200000000:70000".parse::<Rd>().is_err());
    }

    #[test]
    fn rd_wire_round_trip_all_types() {
        for rd in [
            Rd::As2 {
                asn: 1,
                number: u32::MAX,
            },
            Rd::Ip {
                ip: Ipv4Addr::new(192, 0, 2, 1),
                number: 9,
            },
            Rd::As4 {
                asn: 70000,
                number: 1,
            },
            Rd::Unknown {
                typ: 7,
                value: [1, 2, 3, 4, 5, 6],
            },
        ] {
            let mut v = Vec::new();
            rd.write(&mut v);
            assert_eq!(v.len(), Rd::LEN);
            assert_eq!(Rd::read(&mut Reader::new(&v)).unwrap(), rd);
        }
    }

    #[test]
    fn mac_parse_and_print() {
        let m: Mac = "aa:bb:cc:dd:ee:0f".parse().unwrap();
        assert_eq!(m.to_string(), "aa:bb:cc:dd:ee:0f");
        assert!("aa:bb:cc:dd:ee".parse::<Mac>().is_err());
        assert!("aa:bb:cc:dd:ee:ff:00".parse::<Mac>().is_err());
        assert!("01:00:5e:00:00:01".parse::<Mac>().unwrap().is_multicast());
    }

    #[test]
    fn vni_is_24_bit() {
        assert!(Vni::new(0xff_ffff).is_some());
        assert!(Vni::new(0x100_0000).is_none());
        assert!("16777216".parse::<Vni>().is_err());
    }
}
