//! Where the server can be reached, as lines for its operator: one per URL a user can open.
//!
//! A listener on every interface (`0.0.0.0`, `::`) is no address anyone can type, so it is
//! listed once per address of this machine instead.

use std::net::{IpAddr, SocketAddr};

use super::{Bookkeeping, Listeners};
use crate::tls::Source;

/// `serving /root on http://127.0.0.1:8080`, a line per URL; HTTPS lines name the certificate's
/// fingerprint when it is self-signed (a browser will ask the user to check it).
pub(super) fn serving_lines(books: &Bookkeeping, listeners: &Listeners) -> Vec<String> {
    let root = books.state.config().server.root.display().to_string();
    let mut lines = Vec::new();
    for listener in &listeners.plain {
        for url in urls("http", listener.local) {
            lines.push(format!("serving {root} on {url}"));
        }
    }
    let note = match (books.tls.source(), books.tls.fingerprint()) {
        (Some(Source::SelfSigned { .. }), Some(f)) => {
            format!(" (self-signed certificate, SHA-256 {f})")
        }
        _ => String::new(),
    };
    for listener in &listeners.tls {
        for url in urls("https", listener.local) {
            lines.push(format!("serving {root} on {url}{note}"));
        }
    }
    for listener in &listeners.metrics {
        for url in urls("http", listener.local) {
            lines.push(format!("metrics on {url}/metrics, health on {url}/healthz"));
        }
    }
    lines
}

/// Every URL the listeners answer on, plain ones first.
pub(super) fn urls_bound(listeners: &Listeners) -> Vec<String> {
    let plain = listeners.plain.iter().flat_map(|l| urls("http", l.local));
    plain
        .chain(listeners.tls.iter().flat_map(|l| urls("https", l.local)))
        .collect()
}

/// The URLs of a listener bound to `local`.
fn urls(scheme: &str, local: SocketAddr) -> Vec<String> {
    let ips = match local.ip().is_unspecified() {
        true => interface_ips(local.ip()),
        false => vec![local.ip()],
    };
    let port = local.port();
    ips.into_iter()
        .map(|ip| format!("{scheme}://{}", SocketAddr::new(ip, port)))
        .collect()
}

/// The addresses a wildcard listener answers on: IPv4 ones for `0.0.0.0`; for `::` both
/// families (Linux accepts IPv4 on an IPv6 wildcard unless told otherwise). IPv6 link-local
/// addresses are left out: a URL cannot carry the interface they need. Loopback comes first.
fn interface_ips(wildcard: IpAddr) -> Vec<IpAddr> {
    let found: Vec<IpAddr> = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.iter().map(if_addrs::Interface::ip).collect(),
        Err(e) => {
            log::warn!("cannot list this machine's addresses: {e}");
            Vec::new()
        }
    };
    let mut ips: Vec<IpAddr> = found
        .into_iter()
        .filter(|ip| wildcard.is_ipv6() || ip.is_ipv4())
        .filter(|ip| !is_link_local_v6(ip))
        .collect();
    if ips.is_empty() {
        ips.push(wildcard);
    }
    ips.sort_by_key(|ip| (!ip.is_loopback(), ip.is_ipv6()));
    ips.dedup();
    ips
}

fn is_link_local_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_is_listed_as_this_machines_addresses() {
        let urls = urls("http", "0.0.0.0:8080".parse().unwrap());
        assert!(
            urls.contains(&"http://127.0.0.1:8080".to_string()),
            "{urls:?}"
        );
        assert!(urls.iter().all(|u| !u.contains("0.0.0.0")), "{urls:?}");
        assert_eq!(urls[0], "http://127.0.0.1:8080");
    }

    #[test]
    fn a_named_address_is_listed_as_it_is() {
        let urls = urls("https", "[::1]:8443".parse().unwrap());
        assert_eq!(urls, ["https://[::1]:8443"]);
    }

    #[test]
    fn link_local_v6_is_left_out() {
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fd00::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"127.0.0.1".parse().unwrap()));
    }
}
