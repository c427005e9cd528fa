//! Partial JSON comparison with bounded polling, in the manner of FRR
//! topotests' `json_cmp` / `run_and_expect`.
//!
//! `expected` is a sub-document of `actual`:
//! - objects: every expected key must be present with a matching value;
//!   an expected `null` means the key must be absent (or null);
//! - arrays: every expected element must match a distinct actual element,
//!   in any order (extra actual elements are fine);
//! - scalars: equal (numbers compare by value).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::Value;

/// `Ok` when `expected` is included in `actual`, else the first difference
/// with its JSON path.
pub fn json_includes(actual: &Value, expected: &Value) -> std::result::Result<(), String> {
    includes(actual, expected, "$")
}

fn includes(actual: &Value, expected: &Value, path: &str) -> std::result::Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match (ev, a.get(k)) {
                    (Value::Null, None | Some(Value::Null)) => {}
                    (Value::Null, Some(v)) => return Err(format!("{p}: expected absent, got {v}")),
                    (_, None) => return Err(format!("{p}: missing")),
                    (ev, Some(av)) => includes(av, ev, &p)?,
                }
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            let mut used = vec![false; a.len()];
            for (i, ev) in e.iter().enumerate() {
                let hit = a
                    .iter()
                    .enumerate()
                    .find(|(j, av)| !used[*j] && includes(av, ev, path).is_ok())
                    .map(|(j, _)| j);
                match hit {
                    Some(j) => used[j] = true,
                    None => return Err(format!("{path}[{i}]: no element matches {ev}")),
                }
            }
            Ok(())
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{path}: expected {e}, got {a}")),
    }
}

/// Call `fetch` every `interval` until its JSON includes `expected`, for at
/// most `timeout`. Returns the matching document, or an error with the last
/// difference and the last document.
pub fn poll_json(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut fetch: impl FnMut() -> Result<Value>,
    expected: &Value,
) -> Result<Value> {
    let start = Instant::now();
    let mut last = String::from("never fetched");
    let mut tries = 0u32;
    // Bounded in time and in count (a fetch that returns at once cannot spin).
    let max_tries = (timeout.as_millis() / interval.as_millis().max(1)) as u32 + 2;
    while tries < max_tries {
        tries += 1;
        match fetch() {
            Ok(doc) => match json_includes(&doc, expected) {
                Ok(()) => return Ok(doc),
                Err(diff) => last = format!("{diff}\nlast document: {doc}"),
            },
            Err(e) => last = format!("fetch failed: {e:#}"),
        }
        if start.elapsed() >= timeout {
            break;
        }
        std::thread::sleep(interval);
    }
    bail!("{what}: not reached within {timeout:?} ({tries} tries): {last}")
}

/// Poll until `check` returns `Ok(Some(x))`; `Ok(None)` means "not yet".
pub fn poll_until<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    let mut last = String::from("not yet");
    let max_tries = (timeout.as_millis() / interval.as_millis().max(1)) as u32 + 2;
    for _ in 0..max_tries {
        match check() {
            Ok(Some(x)) => return Ok(x),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if start.elapsed() >= timeout {
            break;
        }
        std::thread::sleep(interval);
    }
    bail!("{what}: not reached within {timeout:?}: {last}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn partial_objects_and_unordered_arrays_match() {
        let a = json!({"peers": {"10.0.0.1": {"state": "Established", "pfx": 3}}, "l": [1, 2, 3]});
        assert!(json_includes(
            &a,
            &json!({"peers": {"10.0.0.1": {"state": "Established"}}})
        )
        .is_ok());
        assert!(json_includes(&a, &json!({"l": [3, 1]})).is_ok());
        assert!(json_includes(&a, &json!({"gone": null})).is_ok());
    }

    #[test]
    fn differences_name_the_path() {
        let a = json!({"peers": {"10.0.0.1": {"state": "Active"}}, "l": [1]});
        let e = json_includes(
            &a,
            &json!({"peers": {"10.0.0.1": {"state": "Established"}}}),
        )
        .unwrap_err();
        assert!(e.contains("$.peers.10.0.0.1.state"), "{e}");
        assert!(json_includes(&a, &json!({"l": [1, 1]})).is_err());
        assert!(json_includes(&a, &json!({"l": null})).is_err());
    }

    #[test]
    fn polling_is_bounded() {
        let t = Instant::now();
        let r = poll_json(
            "never",
            Duration::from_millis(200),
            Duration::from_millis(50),
            || Ok(json!({"a": 1})),
            &json!({"a": 2}),
        );
        assert!(r.is_err());
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
