//! Which address a request comes from, for the sign-in throttle, the audit log and the
//! request log. The peer's address, unless the peer is a proxy listed in
//! `TRUSTED_PROXIES`: then `X-Forwarded-For` is read from the right (the entries the
//! trusted proxies appended) and the first address that is not a trusted proxy is the
//! client's. Anything else in the header is the client's own word and is not believed;
//! an entry that is not an IP address stops the walk, so only a valid address is kept.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;

use crate::config::IpBlock;

pub fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpBlock],
) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|block| block.contains(ip));
    let mut client = peer?.ip().to_canonical();
    let forwarded: Vec<&str> = headers
        .get_all("X-Forwarded-For")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for entry in forwarded.iter().rev() {
        if !is_trusted(client) {
            break;
        }
        match parse_entry(entry) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    Some(client)
}

/// `203.0.113.7`, `2001:db8::1`, or either with a port (`203.0.113.7:4711`, `[::1]:80`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client's address as text for a request, `unknown` when there is no peer.
pub fn client_ip_text(req: &actix_web::HttpRequest) -> String {
    let trusted = req
        .app_data::<actix_web::web::Data<crate::web::state::AppState>>()
        .map(|state| state.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    client_ip(req.peer_addr(), req.headers(), trusted)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn ip_for(peer: &str, forwarded: &[&str], trusted: &str) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let trusted = IpBlock::parse_list(trusted).unwrap();
        client_ip(Some(peer.parse().unwrap()), &headers, &trusted)
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        // No proxy trusted: whatever the header says, the peer.
        assert_eq!(
            ip_for("198.51.100.9:5000", &["1.2.3.4"], ""),
            "198.51.100.9"
        );
        // A peer that is not trusted, with proxies trusted elsewhere.
        assert_eq!(
            ip_for("198.51.100.9:5000", &["1.2.3.4"], "10.0.0.0/8"),
            "198.51.100.9"
        );
        // Through a trusted proxy: the address it appended.
        assert_eq!(
            ip_for("10.0.0.2:5000", &["1.2.3.4"], "10.0.0.0/8"),
            "1.2.3.4"
        );
        // A client's forged entries on the left are skipped: the right-most untrusted one.
        assert_eq!(
            ip_for(
                "10.0.0.2:5000",
                &["6.6.6.6, 1.2.3.4, 10.0.0.5"],
                "10.0.0.0/8"
            ),
            "1.2.3.4"
        );
        assert_eq!(
            ip_for("10.0.0.2:5000", &["6.6.6.6", "1.2.3.4"], "10.0.0.0/8"),
            "1.2.3.4"
        );
        // Garbage stops the walk at the last address known: only valid addresses.
        assert_eq!(
            ip_for("10.0.0.2:5000", &["x'; DROP TABLE"], "10.0.0.0/8"),
            "10.0.0.2"
        );
        assert_eq!(
            ip_for("10.0.0.2:5000", &["1.2.3.4, junk, 10.0.0.7"], "10.0.0.0/8"),
            "10.0.0.7"
        );
        assert_eq!(
            ip_for("10.0.0.2:5000", &["[2001:db8::1]:443"], "10.0.0.0/8"),
            "2001:db8::1"
        );
        assert_eq!(ip_for("10.0.0.2:5000", &[], "10.0.0.0/8"), "10.0.0.2");
    }
}
