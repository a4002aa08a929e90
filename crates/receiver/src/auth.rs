//! The optional bearer token OTLP senders must present (`--otlp-token`). Claude Code sends
//! `OTEL_EXPORTER_OTLP_HEADERS` values literally over HTTP (`Bearer%20abc`) but decoded over
//! gRPC (`Bearer abc`), so both spellings are accepted.

use http::HeaderValue;

#[derive(Clone)]
pub struct BearerToken(String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

impl BearerToken {
    /// A token must be non-empty printable ASCII without spaces or commas (it travels inside
    /// `OTEL_EXPORTER_OTLP_HEADERS`).
    pub fn new(token: &str) -> Result<BearerToken, String> {
        if token.is_empty() {
            return Err("the OTLP token must not be empty".into());
        }
        if let Some(c) = token
            .chars()
            .find(|c| !c.is_ascii_graphic() || *c == ',' || *c == '%')
        {
            return Err(format!(
                "the OTLP token must be printable ASCII without spaces, commas or '%' (found {c:?})"
            ));
        }
        Ok(BearerToken(token.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, header: Option<&HeaderValue>) -> bool {
        self.matches_str(header.and_then(|h| h.to_str().ok()).unwrap_or(""))
    }

    pub fn matches_str(&self, header: &str) -> bool {
        let presented = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("Bearer%20"))
            .or_else(|| header.strip_prefix("bearer "))
            .unwrap_or("");
        constant_time_eq(presented.as_bytes(), self.0.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_match_and_others_do_not() {
        let t = BearerToken::new("abc").expect("valid");
        assert!(t.matches_str("Bearer abc"));
        assert!(t.matches_str("Bearer%20abc"));
        assert!(!t.matches_str("Bearer abd"));
        assert!(!t.matches_str("abc"));
        assert!(!t.matches_str(""));
        assert!(BearerToken::new("a b").is_err());
        assert!(BearerToken::new("").is_err());
    }
}
