//! Can GitHub reach this instance? GitHub sends webhooks to the public URL, so a loopback or
//! private address means no webhook ever arrives: /setup says so, and how to fix it.
use std::net::IpAddr;

use maud::{html, Markup};
use url::{Host, Url};

/// Why GitHub cannot reach `url`, if it cannot.
pub(crate) fn unreachable_because(url: &Url) -> Option<&'static str> {
    match url.host()? {
        Host::Ipv4(ip) => ip_reason(IpAddr::V4(ip)),
        Host::Ipv6(ip) => ip_reason(IpAddr::V6(ip)),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                Some("a loopback address")
            } else if !name.contains('.')
                || [".local", ".lan", ".internal", ".home.arpa", ".test"]
                    .iter()
                    .any(|s| name.ends_with(s))
            {
                Some("a name only your network knows")
            } else {
                None
            }
        }
    }
}

fn ip_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v4) if v4.is_unspecified() => Some("an unspecified address"),
        IpAddr::V4(v4) if v4.is_private() || v4.is_link_local() || carrier_nat(v4) => {
            Some("a private address")
        }
        IpAddr::V6(v6) if v6.is_loopback() => Some("a loopback address"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("an unspecified address"),
        IpAddr::V6(v6) if v6.is_unique_local() || v6.is_unicast_link_local() => {
            Some("a private address")
        }
        _ => None,
    }
}

/// 100.64.0.0/10, carrier-grade NAT: not reachable from the internet.
fn carrier_nat(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 100 && (b & 0xc0) == 64
}

/// The notice /setup shows when GitHub cannot reach `public` (nothing otherwise).
pub fn warning(public: &Url) -> Markup {
    let Some(why) = unreachable_because(public) else {
        return html! {};
    };
    let host = public.host_str().unwrap_or_default();
    html! {
        div.notice.warning role="alert" {
            p {
                strong { "GitHub cannot reach this address. " }
                "hubsync's public URL is " code { (public.as_str()) } ", and " code { (host) }
                " is " (why) ": the app can be created, but GitHub's webhooks (every push) will \
                 never arrive."
            }
            p {
                "Fix it before creating the app: set " code { "HUBSYNC_PUBLIC_URL" }
                " to an https address GitHub can reach (a reverse proxy in front of hubsync), \
                 or start a tunnel to hubsync (for example "
                code { "cloudflared tunnel --url " (public.origin().ascii_serialization()) }
                " or " code { "ngrok http " (public.port_or_known_default().unwrap_or(80)) }
                ") and set " code { "HUBSYNC_PUBLIC_URL" } " to the tunnel's URL, then restart \
                 hubsync."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_private_addresses_are_named_public_ones_pass() {
        for (u, unreachable) in [
            ("http://127.0.0.1:3000", true),
            ("http://localhost:3000", true),
            ("http://[::1]:3000", true),
            ("http://0.0.0.0:3000", true),
            ("http://10.1.2.3", true),
            ("http://192.168.1.5:8080", true),
            ("http://172.20.0.2", true),
            ("http://hubsync", true),
            ("http://hubsync.local", true),
            ("http://[fd00::1]", true),
            ("https://hubsync.example.com", false),
            ("https://abc.trycloudflare.com", false),
            ("http://203.0.113.7", false),
        ] {
            let url = Url::parse(u).unwrap();
            assert_eq!(unreachable_because(&url).is_some(), unreachable, "{u}");
        }
    }
}
