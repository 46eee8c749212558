//! Where webhooks may go: request-forgery rules, checked when an endpoint is
//! registered or changed and again at every delivery, after name
//! resolution and before any connection.
//!
//! * `https` only, unless the configuration allows plain `http`.
//! * No user name or password in the URL.
//! * No address in [`BLOCKED_V4`] / [`BLOCKED_V6`] (loopback, private,
//!   shared, link-local — which holds the cloud metadata address
//!   169.254.169.254 —, unique-local, multicast, documentation, reserved),
//!   unless a network of the configuration's allow-list holds it. IPv6
//!   forms that carry an IPv4 address (IPv4-mapped `::ffff:0:0/96`,
//!   NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that address.
//!
//! Names are resolved through a [`Lookup`] (the system's resolver, or one a
//! test injects); a name is refused if any of its addresses is refused, so
//! a name cannot smuggle a private address in beside a public one.
//! `std`'s `is_global` is not stable, hence the lists.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::{Host, Url};

/// IPv4 networks no webhook may reach unless allow-listed.
pub const BLOCKED_V4: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    (
        "100.64.0.0/10",
        "shared address space (carrier-grade NAT; also cloud metadata 100.100.100.200)",
    ),
    ("127.0.0.0/8", "loopback"),
    (
        "169.254.0.0/16",
        "link-local (cloud metadata 169.254.169.254)",
    ),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, and broadcast"),
];

/// IPv6 networks no webhook may reach unless allow-listed (those that embed
/// an IPv4 address are judged by it instead, see [`embedded_v4`]).
pub const BLOCKED_V6: &[(&str, &str)] = &[
    ("::/96", "unspecified, loopback and IPv4-compatible"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard"),
    (
        "2001::/23",
        "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
    ),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique-local (cloud metadata fd00:ec2::254)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
];

/// The IPv4 address an IPv6 address stands for, if it is of a form that
/// carries one: IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`)
/// or 6to4 (`2002:aabb:ccdd::/48`).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let low =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    None
}

/// The rules in force: whether `http` is allowed, and the allow-list.
#[derive(Debug, Clone)]
pub struct Policy {
    pub allow_http: bool,
    pub allowed: Vec<IpNet>,
    blocked_v4: Vec<Ipv4Net>,
    blocked_v6: Vec<Ipv6Net>,
}

impl Policy {
    pub fn new(allow_http: bool, allowed: &[String]) -> anyhow::Result<Self> {
        let allowed = allowed
            .iter()
            .map(|text| {
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!("webhooks_allowed_networks: {text:?} is not a CIDR network")
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            allow_http,
            allowed,
            blocked_v4: BLOCKED_V4
                .iter()
                .map(|(n, _)| n.parse().expect("a network"))
                .collect(),
            blocked_v6: BLOCKED_V6
                .iter()
                .map(|(n, _)| n.parse().expect("a network"))
                .collect(),
        })
    }

    /// Why `ip` may not be reached, or `None` if it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        match ip {
            IpAddr::V4(v4) => self.refusal_v4(v4),
            IpAddr::V6(v6) => {
                if let Some(v4) = embedded_v4(v6) {
                    if self.allowed.iter().any(|net| net.contains(&IpAddr::V4(v4))) {
                        return None;
                    }
                    return self
                        .refusal_v4(v4)
                        .map(|why| format!("{v6} carries {v4}: {why}"));
                }
                self.blocked_v6
                    .iter()
                    .zip(BLOCKED_V6)
                    .find(|(net, _)| net.contains(&v6))
                    .map(|(net, (_, what))| format!("{v6} is in {net} ({what})"))
            }
        }
    }

    fn refusal_v4(&self, ip: Ipv4Addr) -> Option<String> {
        self.blocked_v4
            .iter()
            .zip(BLOCKED_V4)
            .find(|(net, _)| net.contains(&ip))
            .map(|(net, (_, what))| format!("{ip} is in {net} ({what})"))
    }

    /// Checks what can be checked without resolving: scheme, credentials,
    /// and the address of an IP-literal host. Returns the host to resolve
    /// (`None`: the host is an address, already checked).
    pub fn check_url(&self, url: &Url) -> Result<Option<String>, String> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err("must be https".into()),
            other => return Err(format!("{other}: must be https")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        match url.host() {
            None => Err("has no host".into()),
            Some(Host::Ipv4(ip)) => self.refusal(IpAddr::V4(ip)).map_or(Ok(None), Err),
            Some(Host::Ipv6(ip)) => self.refusal(IpAddr::V6(ip)).map_or(Ok(None), Err),
            Some(Host::Domain(name)) => Ok(Some(name.trim_end_matches('.').to_owned())),
        }
    }

    /// The addresses of `name` that may be reached; an error if there are
    /// none, or if any is refused.
    pub fn filter(&self, name: &str, addresses: Vec<IpAddr>) -> Result<Vec<IpAddr>, String> {
        if addresses.is_empty() {
            return Err(format!("{name} does not resolve"));
        }
        for ip in &addresses {
            if let Some(why) = self.refusal(*ip) {
                return Err(format!("{name} resolves to {why}"));
            }
        }
        Ok(addresses)
    }
}

pub type LookupFuture = Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, String>> + Send>>;

/// Resolves a host name to addresses. The service uses the system's
/// resolver; tests inject a table so that they need no DNS.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, name: &str) -> LookupFuture;
}

/// The system's resolver (`getaddrinfo`, on a blocking thread).
#[derive(Debug, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, name: &str) -> LookupFuture {
        let name = name.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                use std::net::ToSocketAddrs;
                (name.as_str(), 0)
                    .to_socket_addrs()
                    .map(|addrs| addrs.map(|a| a.ip()).collect())
                    .map_err(|e| format!("{name} does not resolve: {e}"))
            })
            .await
            .map_err(|e| format!("resolver failed: {e}"))?
        })
    }
}

/// A fixed table of names (tests).
#[derive(Debug, Default, Clone)]
pub struct StaticLookup(pub Vec<(String, Vec<IpAddr>)>);

impl Lookup for StaticLookup {
    fn lookup(&self, name: &str) -> LookupFuture {
        let found = self
            .0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, ips)| ips.clone())
            .ok_or_else(|| format!("{name} does not resolve"));
        Box::pin(async move { found })
    }
}

/// The policy with a resolver: what the service checks URLs with.
#[derive(Clone)]
pub struct Guard {
    pub policy: Arc<Policy>,
    pub lookup: Arc<dyn Lookup>,
}

impl Guard {
    /// Checks a URL completely: its form, then every address it reaches.
    /// Never connects anywhere.
    pub async fn check(&self, url: &Url) -> Result<(), String> {
        if let Some(name) = self.policy.check_url(url)? {
            let addresses = self.lookup.lookup(&name).await?;
            self.policy.filter(&name, addresses)?;
        }
        Ok(())
    }

    /// Checks a URL a caller sent: 422 if it is not one, 403 if it may not
    /// be reached.
    pub async fn check_text(&self, text: &str) -> crate::error::Result<()> {
        let url = Url::parse(text)
            .map_err(|e| crate::error::Error::invalid("url", format!("is not a URL: {e}")))?;
        self.check(&url)
            .await
            .map_err(|why| crate::error::Error::Forbidden {
                code: "webhook_url_not_allowed",
                message: format!("url: {why}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> Policy {
        Policy::new(
            false,
            &allowed.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        let p = policy(&[]);
        for ip in [
            "0.0.0.0",
            "10.0.0.1",
            "100.100.100.200",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.2.5",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(p.refusal(ip).is_some(), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(p.refusal(ip), None, "{ip} must be allowed");
        }
    }

    #[test]
    fn the_allow_list_opens_exactly_what_it_names() {
        let p = policy(&["127.0.0.1/32"]);
        assert_eq!(p.refusal("127.0.0.1".parse().unwrap()), None);
        assert_eq!(p.refusal("::ffff:127.0.0.1".parse().unwrap()), None);
        assert!(p.refusal("127.0.0.2".parse().unwrap()).is_some());
        assert!(p.refusal("10.0.0.1".parse().unwrap()).is_some());
        assert!(Policy::new(false, &["nonsense".into()]).is_err());
    }

    #[test]
    fn urls_must_be_https_without_credentials_and_literal_hosts_are_checked() {
        let p = policy(&[]);
        let check = |u: &str| p.check_url(&Url::parse(u).unwrap());
        assert_eq!(
            check("https://example.org/hook"),
            Ok(Some("example.org".into()))
        );
        assert!(check("http://example.org/hook").is_err());
        assert!(check("ftp://example.org/hook").is_err());
        assert!(check("https://user:pw@example.org/hook").is_err());
        assert!(check("https://10.0.0.1/hook").is_err());
        assert!(check("https://169.254.169.254/latest").is_err());
        assert!(check("https://[::ffff:a9fe:a9fe]/").is_err());
        // Decimal and hex spellings are normalised by the URL parser.
        assert!(check("https://2130706433/").is_err());
        assert!(check("https://0x7f.1/").is_err());
        assert_eq!(check("https://8.8.8.8/"), Ok(None));
        let lax = Policy::new(true, &[]).unwrap();
        assert!(lax
            .check_url(&Url::parse("http://example.org/").unwrap())
            .is_ok());
    }

    #[test]
    fn a_name_is_refused_if_any_address_is() {
        let p = policy(&[]);
        let public: IpAddr = "93.184.215.14".parse().unwrap();
        let private: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(p.filter("a.example", vec![public]).is_ok());
        assert!(p.filter("a.example", vec![public, private]).is_err());
        assert!(p.filter("a.example", vec![]).is_err());
    }
}
