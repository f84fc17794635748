//! Who is asking: the client address failed logins are counted against. The peer address, unless
//! the peer is a proxy the operator named in `HUBSYNC_TRUSTED_PROXIES`: then the nearest address
//! in `X-Forwarded-For` that is not such a proxy. A client cannot pick its own address by sending
//! the header, because nobody else's header is believed.
use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::canonical_ip as canonical;
pub use crate::config::TrustedProxies;

/// The client's address, as above; None only when the peer is unknown.
pub fn address(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let mut client = canonical(req.peer_addr()?.ip());
    if !trusted.trusts(client) {
        return Some(client);
    }
    // Each proxy appends the address it got the request from: walk back from the nearest.
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in forwarded.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            break;
        };
        client = canonical(ip);
        if !trusted.trusts(client) {
            break;
        }
    }
    Some(client)
}

/// `203.0.113.7`, `2001:db8::1`, or with a port: `203.0.113.7:4711`, `[2001:db8::1]:4711`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn from(peer: &str, xff: &[&str], trusted: &str) -> IpAddr {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        for v in xff {
            req = req.append_header(("X-Forwarded-For", *v));
        }
        address(
            &req.to_http_request(),
            &TrustedProxies::parse(trusted).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            from("198.51.100.1:5000", &["203.0.113.9"], ""),
            ip("198.51.100.1")
        );
        assert_eq!(
            from("10.0.0.2:5000", &["203.0.113.9"], "10.0.0.0/8"),
            ip("203.0.113.9")
        );
        // A client's own header is appended to, not replaced: its first entry is never taken.
        assert_eq!(
            from(
                "10.0.0.2:5000",
                &["1.1.1.1, 203.0.113.9", "10.0.0.7"],
                "10.0.0.0/8"
            ),
            ip("203.0.113.9")
        );
        assert_eq!(
            from("10.0.0.2:5000", &["junk"], "10.0.0.0/8"),
            ip("10.0.0.2")
        );
        assert_eq!(
            from("10.0.0.2:5000", &["[2001:db8::1]:80"], "10.0.0.2"),
            ip("2001:db8::1")
        );
        assert_eq!(
            from("[::ffff:10.0.0.2]:5000", &["203.0.113.9"], "10.0.0.2"),
            ip("203.0.113.9")
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }
}
