//! Trusted reverse proxies (`FF_TRUSTED_PROXIES`): a request that comes from one of them is believed
//! about the client's address (`X-Forwarded-For`) and scheme (`X-Forwarded-Proto`). Anyone else's
//! forwarded headers are ignored, so a client cannot pick the address its failed sign-ins count
//! against, or talk the server into non-`Secure` cookies.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// An address or network (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `address` or `address/prefix`.
    ///
    /// # Errors
    /// A sentence naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
        let address: IpAddr =
            address.parse().map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { address, prefix })
    }

    /// Whether `ip` is in the network.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Who is on the other end of a request, once the trusted proxies are seen through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address (the proxy's own when nothing trustworthy says otherwise).
    pub address: String,
    /// A trusted proxy says the client used https.
    pub https: bool,
}

/// The client of `request`, given the trusted proxies.
#[must_use]
pub fn client(request: &HttpRequest, trusted: &[Network]) -> Client {
    let peer = request.peer_addr().map(|peer| peer.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|network| network.contains(ip));
    let Some(peer) = peer else { return Client { address: String::new(), https: false } };
    if !is_trusted(peer) {
        return Client { address: peer.to_string(), https: false };
    }
    let header = |name: &str| {
        request.headers().get_all(name).filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",")
    };
    // From the right: the first hop that is not one of our proxies is the client.
    let forwarded = header("x-forwarded-for");
    let mut address = peer;
    for hop in forwarded.rsplit(',').map(str::trim).filter(|hop| !hop.is_empty()) {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        address = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    let proto = header("x-forwarded-proto");
    let https = proto.split(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    Client { address: address.to_string(), https }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn nets(list: &[&str]) -> Vec<Network> {
        list.iter().map(|n| Network::parse(n).expect("network")).collect()
    }

    #[test]
    fn networks_parse_and_match() {
        let net = Network::parse("10.0.0.0/8").expect("v4");
        assert!(net.contains("10.1.2.3".parse().expect("ip")));
        assert!(net.contains("::ffff:10.1.2.3".parse().expect("mapped")));
        assert!(!net.contains("11.0.0.1".parse().expect("ip")));
        assert!(Network::parse("fd00::/8").expect("v6").contains("fd12::1".parse().expect("ip")));
        assert!(Network::parse("0.0.0.0/0").expect("all").contains("8.8.8.8".parse().expect("ip")));
        assert!(Network::parse("127.0.0.1").expect("one").contains("127.0.0.1".parse().expect("ip")));
        for bad in ["10.0.0.0/33", "proxy", "10.0.0.0/x", ""] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let forwarded = |peer: &str| {
            TestRequest::default()
                .peer_addr(peer.parse().expect("peer"))
                .insert_header(("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2"))
                .insert_header(("x-forwarded-proto", "https"))
                .to_http_request()
        };
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client(&forwarded("10.0.0.1:4000"), &trusted),
            Client { address: "203.0.113.7".into(), https: true },
            "the first untrusted hop from the right; the spoofed 6.6.6.6 is ignored"
        );
        assert_eq!(
            client(&forwarded("198.51.100.1:4000"), &trusted),
            Client { address: "198.51.100.1".into(), https: false },
            "not a proxy of ours: its headers mean nothing"
        );
        assert_eq!(client(&forwarded("10.0.0.1:4000"), &[]).address, "10.0.0.1");
    }
}
