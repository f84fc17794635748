//! What an error answer said, fit for an error message: GitHub's own `message` when it sent
//! JSON, else the content type, the size and the first bytes (a proxy's HTML page, say), with
//! control characters dropped, whitespace folded, token-shaped strings redacted, length bounded.
use http::{header, HeaderMap};

/// Characters of a body quoted in an error.
const EXCERPT: usize = 120;
/// GitHub's `message` is kept longer: it is meant to be read.
const MESSAGE: usize = 300;

/// Never empty, so an error built from it never ends in a dangling colon.
pub(crate) fn describe(headers: &HeaderMap, body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(|m| clean(m, MESSAGE)))
        .filter(|m| !m.is_empty());
    if let Some(m) = message {
        return m;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| clean(v, 60))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "no content type".into());
    let text = clean(&String::from_utf8_lossy(body), EXCERPT);
    if text.is_empty() {
        format!("{content_type}, empty body")
    } else {
        format!("{content_type}, {} bytes: \"{text}\"", body.len())
    }
}

/// At most `max` characters (then `…`), printable only, whitespace folded, tokens redacted.
fn clean(raw: &str, max: usize) -> String {
    let mut folded = String::new();
    for c in raw.chars() {
        if c.is_whitespace() {
            if !folded.ends_with(' ') && !folded.is_empty() {
                folded.push(' ');
            }
        } else if !c.is_control() {
            folded.push(c);
        }
    }
    let redacted = redact(folded.trim_end());
    match redacted.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &redacted[..at]),
        None => redacted,
    }
}

/// GitHub token prefixes (`ghs_`, `ghp_`, ...), fine-grained PATs and JWTs, wherever they appear.
const TOKEN_PREFIXES: &[&str] = &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "eyJ"];

fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for p in TOKEN_PREFIXES {
            if rest.starts_with(p) {
                let tail = &rest[p.len()..];
                let len = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
                    .unwrap_or(tail.len());
                if len >= 16 {
                    out.push_str("[redacted]");
                    rest = &tail[len..];
                    continue 'scan;
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[test]
    fn json_errors_give_githubs_message() {
        let body = br#"{"message":"Server Error","documentation_url":"https://docs.github.com"}"#;
        assert_eq!(describe(&headers("application/json"), body), "Server Error");
    }

    #[test]
    fn other_bodies_are_described_bounded_and_clean() {
        let page = format!(
            "<html>\r\n\t<b>oops</b>\u{1b}[31m Bearer ghs_{} {}</html>",
            "a".repeat(36),
            "z".repeat(500)
        );
        let d = describe(&headers("text/html; charset=utf-8"), page.as_bytes());
        assert!(d.starts_with("text/html; charset=utf-8, "), "{d}");
        assert!(
            d.contains("\"<html> <b>oops</b>[31m Bearer [redacted] zzz"),
            "{d}"
        );
        assert!(d.ends_with("…\""), "{d}");
        assert!(d.chars().count() < 200, "{d}");
        assert!(!d.chars().any(char::is_control), "{d:?}");
    }

    #[test]
    fn empty_and_untyped_bodies_still_say_something() {
        assert_eq!(
            describe(&HeaderMap::new(), b""),
            "no content type, empty body"
        );
        assert_eq!(
            describe(&headers("text/plain"), b"  \n"),
            "text/plain, empty body"
        );
        // Short words that merely start like a token stay.
        assert_eq!(redact("ghs_short eyJ"), "ghs_short eyJ");
        let jwt = format!("x eyJ{}.{} y", "h".repeat(20), "p".repeat(20));
        assert_eq!(redact(&jwt), "x [redacted] y");
    }
}
