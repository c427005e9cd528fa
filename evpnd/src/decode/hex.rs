//! `evpnctl decode --hex`: one BGP message per line, hex digits with any
//! spacing; blank lines and `#` comments are skipped.

/// A line that is not valid hex, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct HexError {
    pub line: usize,
    pub reason: String,
}

/// Parse every message line of `text`.
pub fn parse_hex_lines(text: &str) -> Vec<Result<Vec<u8>, HexError>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let digits: String = line
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        if digits.is_empty() {
            continue;
        }
        out.push(parse_hex(&digits).map_err(|reason| HexError {
            line: i + 1,
            reason,
        }));
    }
    out
}

fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("not hex at column {}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_comments_and_blank_lines() {
        let r = parse_hex_lines("# keepalive\nffff ffff\n\n 00 13 04 # tail\nzz\n");
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].as_ref().unwrap(), &vec![0xff; 4]);
        assert_eq!(r[1].as_ref().unwrap(), &vec![0, 0x13, 4]);
        assert_eq!(r[2].as_ref().unwrap_err().line, 5);
    }

    #[test]
    fn odd_digit_count_is_an_error() {
        let r = parse_hex_lines("abc\n");
        assert!(r[0].as_ref().unwrap_err().reason.contains("odd"));
    }
}
