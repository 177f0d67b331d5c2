//! Where outputs may send to: the optional allowlist of the config
//! (`outputs.allowed_destinations`). Each output's schemes are fixed by
//! its kind (`rtmp(s)://`, `srt://`, `http(s)://` S3 endpoints), checked
//! where the output is validated; this checks the hosts.
//!
//! An entry is a network (`10.0.0.0/8`), an address, a host name or a
//! domain (`*.example.com`, any name under it). A host given as an
//! address must be in a listed network. A host name is allowed if listed,
//! else if every address it resolves to is in a listed network, so that a
//! name pointing inside a forbidden network is refused. (The sink resolves
//! the name again when it connects; a DNS answer that changes in between
//! is not caught here.)

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::error::ApiError;
use crate::media::outputs::OutputSpec;

#[derive(Debug, Clone, Default)]
pub struct Destinations {
    nets: Vec<IpNet>,
    /// Lower-case names; a domain as `.example.com`.
    names: Vec<String>,
}

impl Destinations {
    /// Reads the config's entries; the error names the one at fault.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut d = Destinations::default();
        for e in entries {
            let e = e.trim();
            if let Ok(net) = e.parse::<IpNet>() {
                d.nets.push(net);
            } else if let Ok(ip) = e.parse::<IpAddr>() {
                d.nets.push(IpNet::from(ip));
            } else if let Some(domain) = e.strip_prefix("*.") {
                check_name(domain).map_err(|m| format!("{e:?} {m}"))?;
                d.names.push(format!(".{}", domain.to_ascii_lowercase()));
            } else {
                check_name(e).map_err(|m| format!("{e:?} {m}"))?;
                d.names.push(e.to_ascii_lowercase());
            }
        }
        Ok(d)
    }

    /// No allowlist: any host.
    pub fn is_open(&self) -> bool {
        self.nets.is_empty() && self.names.is_empty()
    }

    /// Whether `host` may be sent to, `resolved` being the addresses the
    /// name resolves to (ignored for an address or a listed name).
    pub fn allows(&self, host: &str, resolved: &[IpAddr]) -> bool {
        if self.is_open() {
            return true;
        }
        if let Some(ip) = as_ip(host) {
            return self.has_ip(ip);
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let named = self.names.iter().any(|n| match n.strip_prefix('.') {
            Some(domain) => host.ends_with(n.as_str()) && host.len() > domain.len() + 1,
            None => *n == host,
        });
        named || (!resolved.is_empty() && resolved.iter().all(|ip| self.has_ip(*ip)))
    }

    fn has_ip(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Checks every host `spec` sends to; the error names its field,
    /// under `prefix` (`outputs[0].` in a session, empty for one output).
    pub async fn check(&self, spec: &OutputSpec, prefix: &str) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        for (field, url) in spec.destinations() {
            self.check_url(&url, &format!("{prefix}{field}")).await?;
        }
        Ok(())
    }

    /// Checks the host of `url`; the error names `field`.
    pub async fn check_url(&self, url: &str, field: &str) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        let Some(host) = host_of(url) else {
            return Err(ApiError::field(field, "must name a host"));
        };
        let resolved = match as_ip(host) {
            Some(_) => Vec::new(),
            None => resolve(host).await,
        };
        if self.allows(host, &resolved) {
            Ok(())
        } else {
            Err(ApiError::field(
                field,
                format!("{host} is not an allowed destination (outputs.allowed_destinations)"),
            ))
        }
    }
}

fn check_name(name: &str) -> Result<(), &'static str> {
    let ok = !name.is_empty()
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok {
        Ok(())
    } else {
        Err("is neither a network, an address, a host name nor *.domain")
    }
}

fn as_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The host of `scheme://[user@]host[:port]/...`, without brackets.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// What `host` resolves to; nothing if it does not within 3 s.
async fn resolve(host: &str) -> Vec<IpAddr> {
    let lookup = tokio::net::lookup_host((host, 0));
    match tokio::time::timeout(Duration::from_secs(3), lookup).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Destinations {
        Destinations::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn hosts_are_found_in_urls() {
        assert_eq!(
            host_of("rtmp://live.example.com/app/key"),
            Some("live.example.com")
        );
        assert_eq!(host_of("rtmps://h:443/app/key?x=1"), Some("h"));
        assert_eq!(host_of("srt://10.0.0.1:9000?mode=caller"), Some("10.0.0.1"));
        assert_eq!(host_of("http://[::1]:9000"), Some("::1"));
        assert_eq!(
            host_of("https://user@s3.example.com/"),
            Some("s3.example.com")
        );
        assert_eq!(host_of("rtmp:///app/key"), None);
        assert_eq!(host_of("no scheme"), None);
    }

    #[test]
    fn an_empty_list_allows_anything() {
        let d = list(&[]);
        assert!(d.is_open() && d.allows("anything.example", &[]) && d.allows("10.1.2.3", &[]));
    }

    #[test]
    fn addresses_must_be_in_a_listed_network() {
        let d = list(&["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]);
        assert!(d.allows("10.20.30.40", &[]));
        assert!(d.allows("192.168.1.7", &[]));
        assert!(!d.allows("192.168.1.8", &[]));
        assert!(!d.allows("127.0.0.1", &[]));
        assert!(d.allows("2001:db8::1", &[]));
        assert!(d.allows("[2001:db8::1]", &[]));
        // An IPv4 address written as IPv6 is still that address.
        assert!(d.allows("::ffff:10.0.0.1", &[]));
        assert!(!d.allows("::ffff:127.0.0.1", &[]));
    }

    #[test]
    fn names_match_exactly_or_under_a_domain() {
        let d = list(&["live.example.com", "*.cdn.example.net"]);
        assert!(d.allows("live.example.com", &[]));
        assert!(d.allows("LIVE.example.com.", &[]));
        assert!(!d.allows("evil-live.example.com", &[]));
        assert!(d.allows("a.cdn.example.net", &[]));
        assert!(d.allows("a.b.cdn.example.net", &[]));
        assert!(!d.allows("cdn.example.net", &[]));
        assert!(!d.allows("xcdn.example.net", &[]));
        assert!(!d.allows("10.0.0.1", &[]));
    }

    #[test]
    fn other_names_are_judged_by_what_they_resolve_to() {
        let d = list(&["10.0.0.0/8"]);
        assert!(d.allows("ingest.internal", &[ip("10.1.1.1")]));
        assert!(d.allows("ingest.internal", &[ip("10.1.1.1"), ip("10.2.2.2")]));
        // One address outside is enough to refuse; so is no address.
        assert!(!d.allows("mixed.internal", &[ip("10.1.1.1"), ip("127.0.0.1")]));
        assert!(!d.allows("unknown.internal", &[]));
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in ["", "10.0.0.0/40", "*.", "a..b", "http://x", "x y"] {
            let err = Destinations::parse(&[bad.to_string()]).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
