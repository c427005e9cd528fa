//! `make demo` in its `--quick` form: the fabric comes up, the VM moves
//! once under ping, every leaf converges, and the demo exits 0.

#![allow(clippy::unwrap_used, reason = "test")]

#[test]
fn demo_quick_runs_a_migration_and_reports_convergence() {
    if integration::skip_unless(true, &["ping", "bridge"]) {
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evpnd-demo"))
        .arg("--quick")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "demo failed");
    assert!(text.contains("migrating the VM leaf1 -> leaf3"), "{text}");
    assert!(text.contains("[new leaf (local)]"), "{text}");
    assert!(!text.contains("not converged"), "{text}");
    assert!(text.contains("loss window: to h2"), "{text}");
    // After the move every leaf's trace names leaf3 (or says local there).
    assert!(text.contains("local port=vm"), "{text}");
    assert_eq!(
        text.matches("remote port=- vtep=10.0.3.2 seq=1").count(),
        2,
        "{text}"
    );
}
