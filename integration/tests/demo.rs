//! `make demo` in its `--quick` form: the fabric (spine, three evpnd
//! leaves, FRR core, two VNIs in one L3 VNI) comes up, the VM moves once
//! under probes, every leaf and the core converge, the JSON report and the
//! PNG plot are written, and the demo exits 0.

#![allow(clippy::unwrap_used, reason = "test")]

#[test]
fn demo_quick_runs_a_migration_and_reports_convergence() {
    if integration::skip_unless(true, &["ping", "bridge", "/usr/lib/frr/bgpd"]) {
        return;
    }
    let dir = integration::TestDir::new("demo-report").unwrap();
    let json = dir.path().join("report.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evpnd-demo"))
        .arg("--quick")
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "demo failed");
    assert!(text.contains("migrating the VM leaf1 -> leaf3"), "{text}");
    assert!(
        text.contains("converged after port-up: MAC on every leaf"),
        "{text}"
    );
    assert!(!text.contains("not converged"), "{text}");
    // After the move every leaf's trace names leaf3 (or says local there).
    assert!(text.contains("local port=vm"), "{text}");
    assert_eq!(
        text.matches("remote port=- vtep=10.0.3.2 seq=1").count(),
        2,
        "{text}"
    );

    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let m = &r["moves"][0];
    assert_eq!(
        (m["from"].as_str(), m["to"].as_str()),
        (Some("leaf1"), Some("leaf3"))
    );
    for k in ["mac_converged_ms", "ip_converged_ms", "core_converged_ms"] {
        assert!(m[k].as_f64().is_some_and(|v| v >= 0.0), "{k}: {m}");
    }
    let events = m["events"].as_array().unwrap();
    let has = |node: &str, what: &str| {
        events
            .iter()
            .any(|e| e["node"] == node && e["what"].as_str().is_some_and(|w| w.contains(what)))
    };
    assert!(has("core", "/32 announced by leaf3"), "{m}");
    assert!(has("leaf3", "MAC learned on the port"), "{m}");
    assert!(has("leaf1", "MAC -> leaf3"), "{m}");
    assert!(has("leaf2", "VRF /32 via leaf3"), "{m}");
    let pings = m["pings"].as_array().unwrap();
    assert_eq!(pings.len(), 4, "{m}");
    for p in pings {
        assert!(p["received"].as_u64().unwrap() > 100, "{p}");
    }
    let png = json.with_extension("png");
    if text.contains("plot skipped") {
        netlink_glue::netns::skipped("the PNG plot (no font)");
    } else {
        let bytes = std::fs::read(&png).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is no PNG",
            png.display()
        );
    }
}
