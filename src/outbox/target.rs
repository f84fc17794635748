//! Where a subscription may send: http(s) URLs whose host is a public address. Loopback,
//! private, link-local and other special ranges are refused (every address a name resolves to
//! is checked, at creation and again at each connection, through the client's resolver) unless
//! `HUBSYNC_OUTBOX_ALLOW_PRIVATE=1`.
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use url::{Host, Url};

/// The longest URL accepted.
const MAX_URL: usize = 2048;
/// A name that does not resolve within this is refused at creation.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("url must be an absolute http:// or https:// URL with a host")]
    NotHttp,
    #[error("url is longer than {MAX_URL} characters")]
    TooLong,
    #[error("url must not carry a user name or password")]
    Credentials,
    #[error("{host} cannot be resolved")]
    Unresolvable { host: String },
    #[error(
        "refused: {host} is a loopback, private or link-local address ({ip}); set \
         HUBSYNC_OUTBOX_ALLOW_PRIVATE=1 to allow it"
    )]
    Private { host: String, ip: IpAddr },
}

/// The URL, if it has the shape of a subscription's target.
pub fn parse(raw: &str) -> Result<Url, TargetError> {
    if raw.len() > MAX_URL {
        return Err(TargetError::TooLong);
    }
    let url = Url::parse(raw.trim()).map_err(|_| TargetError::NotHttp)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(TargetError::NotHttp);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    Ok(url)
}

/// Resolves the URL's host and checks every address it has.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), TargetError> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let ips: Vec<IpAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(Host::Domain(_)) if allow_private => return Ok(()),
        Some(Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let found =
                tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>())
                    .unwrap_or_default();
            if found.is_empty() {
                return Err(TargetError::Unresolvable { host });
            }
            found
        }
        None => return Err(TargetError::NotHttp),
    };
    allowed(&host, &ips, allow_private)
}

fn allowed(host: &str, ips: &[IpAddr], allow_private: bool) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    match ips.iter().find(|ip| !is_public(**ip)) {
        Some(ip) => Err(TargetError::Private {
            host: host.to_owned(),
            ip: *ip,
        }),
        None => Ok(()),
    }
}

/// False for every address that is not a public unicast one.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking
        || a >= 240) // reserved
}

/// The delivery client's resolver: refuses a name if any address it resolves to is not public,
/// so a name that changes its answer after the check still cannot reach a private address.
pub(crate) struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<IpAddr> = addrs.iter().map(|a| a.ip()).collect();
            allowed(&host, &ips, allow_private)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub(crate) fn resolver(allow_private: bool) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver { allow_private })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "64:ff9b::5db8:d822",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_http_urls_without_credentials() {
        assert!(parse("https://example.com/hook").is_ok());
        assert!(parse("http://example.com:8080/hook?x=1").is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "file:///etc/passwd",
            "http://",
        ] {
            assert_eq!(parse(bad), Err(TargetError::NotHttp), "{bad}");
        }
        assert_eq!(
            parse("https://user:pw@example.com/"),
            Err(TargetError::Credentials)
        );
        assert_eq!(
            parse(&format!("https://e.com/{}", "a".repeat(3000))),
            Err(TargetError::TooLong)
        );
    }

    #[tokio::test]
    async fn literal_and_resolved_private_hosts_are_refused() {
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://10.0.0.1/",
            "http://localhost:9/",
        ] {
            let u = parse(url).unwrap();
            assert!(
                matches!(check(&u, false).await, Err(TargetError::Private { .. })),
                "{url}"
            );
            assert_eq!(check(&u, true).await, Ok(()), "{url} allowed");
        }
    }
}
