//! `PmsiTunnel::read` (the PMSI_TUNNEL value, RFC 6514 §5).
#![no_main]

use evpn_proto::PmsiTunnel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = PmsiTunnel::read(data) else {
        return;
    };
    let _ = p.endpoint();
    let mut again = Vec::with_capacity(data.len());
    p.write(&mut again);
    assert_eq!(PmsiTunnel::read(&again).expect("re-encoded PMSI tunnel"), p);
});
