//! Outbound requests to addresses others chose (webhook receivers, Landbot attachments): what
//! counts as a private address, and the check that resolves a URL and refuses one.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};

/// Whether an address is not on the public internet: loopback, private, link-local, carrier-grade
/// NAT, unspecified, multicast, broadcast, unique-local (IPv6), or such an address mapped into IPv6.
#[must_use]
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an http(s) URL with a host, or its host does not resolve.
    #[error("{0}")]
    Invalid(String),
    /// The host resolves to a private address (every address is checked).
    #[error("refused: {host} resolves to {address}, a private, loopback or link-local address")]
    Private { host: String, address: IpAddr },
}

/// Resolves an http(s) URL's host and refuses it when any of its addresses is private (unless
/// `allow_private`). Answers the host and the addresses checked, to connect to those only (a
/// second resolution could answer otherwise).
///
/// # Errors
/// See [`TargetError`].
pub fn check_target(url: &str, allow_private: bool) -> Result<(String, Vec<SocketAddr>), TargetError> {
    let parsed = url::Url::parse(url).map_err(|e| TargetError::Invalid(format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Invalid("only http and https URLs".into()));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| TargetError::Invalid("a URL with a host".into()))?
        .trim_matches(['[', ']'])
        .to_owned();
    let port =
        parsed.port_or_known_default().ok_or_else(|| TargetError::Invalid("a URL with a port".into()))?;
    let addresses: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| TargetError::Invalid(format!("cannot resolve {host}: {e}")))?
        .collect();
    if addresses.is_empty() {
        return Err(TargetError::Invalid(format!("{host} has no address")));
    }
    if !allow_private && let Some(address) = addresses.iter().find(|a| is_private(a.ip())) {
        return Err(TargetError::Private { host, address: address.ip() });
    }
    Ok((host, addresses))
}
