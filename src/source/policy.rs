//! Which sources the service may read: schemes, hosts and the addresses they resolve to. The
//! check runs on the parsed URL (the same parser the HTTP client connects with, so odd numeric
//! hosts such as `2130706433` or `0x7f.1` are already IPv4 addresses here) and again on every
//! address a name resolves to and on every redirect hop.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use url::{Host, Url};

/// The rule that refused a source; its name is what clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Not http or https (or file without a file root).
    Scheme,
    /// A file outside `PYTHUMBIO_FILE_ROOT`.
    FileRoot,
    /// A host not in `PYTHUMBIO_ALLOWED_SOURCES`.
    NotAllowed,
    Loopback,
    Private,
    LinkLocal,
    Unspecified,
    Multicast,
    Broadcast,
    Documentation,
    Reserved,
    /// The source is this service, or another pythumbio.
    SelfRequest,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Self::Scheme => "scheme",
            Self::FileRoot => "file-root",
            Self::NotAllowed => "allowed-sources",
            Self::Loopback => "loopback-address",
            Self::Private => "private-address",
            Self::LinkLocal => "link-local-address",
            Self::Unspecified => "unspecified-address",
            Self::Multicast => "multicast-address",
            Self::Broadcast => "broadcast-address",
            Self::Documentation => "documentation-address",
            Self::Reserved => "reserved-address",
            Self::SelfRequest => "self",
        }
    }

    /// The rule of this name (as [`Rule::name`] spells it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|rule| rule.name() == name)
    }

    /// Every rule.
    pub const ALL: [Self; 12] = [
        Self::Scheme,
        Self::FileRoot,
        Self::NotAllowed,
        Self::Loopback,
        Self::Private,
        Self::LinkLocal,
        Self::Unspecified,
        Self::Multicast,
        Self::Broadcast,
        Self::Documentation,
        Self::Reserved,
        Self::SelfRequest,
    ];

    /// What the rule means, for the error message (never the address itself).
    pub fn explain(self) -> &'static str {
        match self {
            Self::Scheme => "only http and https sources are fetched",
            Self::FileRoot => "file sources must lie inside the configured file root",
            Self::NotAllowed => "the host is not in the allowed sources",
            Self::Loopback => "the source resolves to a loopback address",
            Self::Private => "the source resolves to a private network address",
            Self::LinkLocal => "the source resolves to a link-local address",
            Self::Unspecified => "the source resolves to an unspecified address",
            Self::Multicast => "the source resolves to a multicast address",
            Self::Broadcast => "the source resolves to the broadcast address",
            Self::Documentation => "the source resolves to a documentation address",
            Self::Reserved => "the source resolves to a reserved address",
            Self::SelfRequest => "the source is a pythumbio service, reading itself",
        }
    }
}

/// A source the policy refuses, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub Rule);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "source refused ({}): {}",
            self.0.name(),
            self.0.explain()
        )
    }
}

impl std::error::Error for Refusal {}

/// One entry of the allowlist: `host`, `host:port` or `*.domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    host: String,
    port: Option<u16>,
    /// `*.example.com`: any name below example.com (not example.com itself).
    subdomains: bool,
}

/// An allowlist entry that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("{0:?} is not host, host:port or *.domain")]
    NotAPattern(String),
    #[error("{0:?}: a `*` stands only first, for the names below a domain (*.example.com); to allow any host, leave PYTHUMBIO_ALLOWED_SOURCES unset")]
    Wildcard(String),
}

/// A file root that cannot be one.
#[derive(Debug, thiserror::Error)]
pub enum FileRootError {
    #[error("{path}: {error}")]
    Unreadable { path: String, error: std::io::Error },
    #[error("{0} is not a directory")]
    NotADirectory(String),
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let text = text.trim().to_ascii_lowercase();
        let bad = || PatternError::NotAPattern(text.clone());
        if text.trim_start_matches("*.").contains('*') {
            return Err(PatternError::Wildcard(text));
        }
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, text.clone()),
        };
        // Parse through the URL parser so the entry is spelled as URLs' hosts are.
        let url = Url::parse(&format!("http://{rest}/")).map_err(|_| bad())?;
        let host = url.host_str().ok_or_else(bad)?.to_string();
        if url.path() != "/" || !url.username().is_empty() || url.query().is_some() {
            return Err(bad());
        }
        Ok(Self {
            host,
            port: url.port(),
            subdomains: wildcard,
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let host_ok = if self.subdomains {
            host.strip_suffix(self.host.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1)
        } else {
            host == self.host
        };
        host_ok && self.port.is_none_or(|p| Some(p) == port)
    }
}

/// The source policy in force.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub allow_loopback: bool,
    pub allow_private: bool,
    /// Empty: any host (the address rules still apply).
    pub allowed: Vec<Pattern>,
    /// Canonical directory `file://` sources must lie in; None refuses `file://`.
    pub file_root: Option<PathBuf>,
    /// Where the service listens (set once it does): a source there is the service itself.
    pub own: std::sync::OnceLock<std::net::SocketAddr>,
    /// The one URL every rule lets through: the service's own sample clip, on its own
    /// listening address (set once the service listens).
    pub sample: std::sync::OnceLock<Url>,
}

impl Policy {
    /// Records where this service listens: a source there is the service itself.
    pub fn set_own_address(&self, addr: std::net::SocketAddr) {
        let _ = self.own.set(addr);
    }

    /// Lets exactly `url` through, whatever the rules: the built-in sample.
    pub fn allow_sample(&self, url: Url) {
        let _ = self.sample.set(url);
    }

    /// The sample's URL, once the service listens.
    pub fn sample(&self) -> Option<&Url> {
        self.sample.get()
    }

    /// Whether `url` names this service's own listening address (by address, or `localhost`).
    fn is_own_address(&self, url: &Url) -> bool {
        let Some(own) = self.own.get() else {
            return false;
        };
        is_address(url, own)
    }
}

/// Whether `url` names `own` (by address, or `localhost` when `own` is local or unspecified).
fn is_address(url: &Url, own: &std::net::SocketAddr) -> bool {
    if url.port_or_known_default() != Some(own.port()) {
        return false;
    }
    let local = |ip: IpAddr| ip.is_loopback() || ip.is_unspecified();
    let matches = |ip: IpAddr| ip == own.ip() || (own.ip().is_unspecified() && local(ip));
    match url.host() {
        Some(Host::Ipv4(ip)) => matches(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => {
            matches(IpAddr::V6(ip)) || ip.to_ipv4_mapped().is_some_and(|v4| matches(v4.into()))
        }
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost") && (local(own.ip())),
        None => false,
    }
}

impl Policy {
    /// Checks what can be known of a URL before any lookup: scheme, allowlist, and a host that is
    /// already an address. A name is checked again, address by address, when it is resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if self.sample.get() == Some(url) {
            return Ok(());
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal(Rule::Scheme));
        }
        if self.is_own_address(url) {
            return Err(Refusal(Rule::SelfRequest));
        }
        let host = url.host().ok_or(Refusal(Rule::NotAllowed))?;
        if !self.allowed.is_empty() {
            let name = url.host_str().unwrap_or_default();
            if !self
                .allowed
                .iter()
                .any(|p| p.matches(name, url.port_or_known_default()))
            {
                return Err(Refusal(Rule::NotAllowed));
            }
        }
        match host {
            Host::Ipv4(ip) => self.check_ip(IpAddr::V4(ip)),
            Host::Ipv6(ip) => self.check_ip(IpAddr::V6(ip)),
            Host::Domain(_) => Ok(()),
        }
    }

    /// Checks one address a source would be read from.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match classify(ip) {
            None => Ok(()),
            Some(Rule::Loopback) if self.allow_loopback => Ok(()),
            Some(Rule::Private | Rule::LinkLocal) if self.allow_private => Ok(()),
            Some(rule) => Err(Refusal(rule)),
        }
    }

    /// The file a `file://` URL names, when a file root is set and the file lies inside it once
    /// every `..` and symbolic link is resolved.
    pub fn check_file(&self, url: &Url) -> Result<PathBuf, FileRefusal> {
        let root = self
            .file_root
            .as_deref()
            .ok_or(FileRefusal::Refused(Refusal(Rule::Scheme)))?;
        let path = url
            .to_file_path()
            .map_err(|_| FileRefusal::Refused(Refusal(Rule::FileRoot)))?;
        // A path that does not resolve says nothing about files outside the root.
        let real = path
            .canonicalize()
            .map_err(|_| match path.starts_with(root) {
                true => FileRefusal::Missing,
                false => FileRefusal::Refused(Refusal(Rule::FileRoot)),
            })?;
        if !real.starts_with(root) || !real.is_file() {
            return Err(if real.starts_with(root) {
                FileRefusal::Missing
            } else {
                FileRefusal::Refused(Refusal(Rule::FileRoot))
            });
        }
        Ok(real)
    }
}

/// Why a `file://` source is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRefusal {
    Refused(Refusal),
    /// Inside the root, but no such file.
    Missing,
}

/// Canonicalises a file root, so that the prefix check compares real paths.
pub fn file_root(dir: &Path) -> Result<PathBuf, FileRootError> {
    let real = dir
        .canonicalize()
        .map_err(|error| FileRootError::Unreadable {
            path: dir.display().to_string(),
            error,
        })?;
    if !real.is_dir() {
        return Err(FileRootError::NotADirectory(dir.display().to_string()));
    }
    Ok(real)
}

/// The rule an address falls under, or None for a public unicast address. IPv6 forms that carry
/// an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that address.
pub fn classify(ip: IpAddr) -> Option<Rule> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) if is_local_nat64(v6) => {
            local_nat64_v4s(v6).into_iter().find_map(classify_v4)
        }
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Rule> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => Rule::Unspecified,
        (127, _, _) => Rule::Loopback,
        (10, _, _) | (192, 168, _) => Rule::Private,
        (172, 16..=31, _) => Rule::Private,
        (100, 64..=127, _) => Rule::Private, // carrier-grade NAT
        (169, 254, _) => Rule::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Rule::Documentation,
        (192, 0, 0) | (198, 18..=19, _) => Rule::Reserved, // protocol assignments, benchmarking
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => Rule::Broadcast,
        (224..=239, _, _) => Rule::Multicast,
        (240..=255, _, _) => Rule::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Rule> {
    let s = ip.segments();
    Some(if ip.is_unspecified() {
        Rule::Unspecified
    } else if ip.is_loopback() {
        Rule::Loopback
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        Rule::Private // unique local, and the old site-local
    } else if s[0] & 0xffc0 == 0xfe80 {
        Rule::LinkLocal
    } else if s[0] & 0xff00 == 0xff00 {
        Rule::Multicast
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Rule::Documentation
    } else if s[0] == 0x0100 && s[1..4] == [0, 0, 0] {
        Rule::Reserved // discard-only
    } else {
        return None;
    })
}

/// The NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215).
fn is_local_nat64(ip: Ipv6Addr) -> bool {
    ip.segments()[..3] == [0x64, 0xff9b, 0x0001]
}

/// Every IPv4 address a local-use NAT64 address could embed: the network's prefix length (48 to
/// 96, RFC 6052) is not known here, so an address is refused when any reading of it is. Octets
/// 6 to 11 all zero can only be the /96 form.
fn local_nat64_v4s(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let b = ip.octets();
    let last = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    if b[6..12] == [0; 6] {
        return vec![last];
    }
    // Octet 8 is the reserved "u" octet in every form but /96.
    vec![
        Ipv4Addr::new(b[6], b[7], b[9], b[10]),   // /48
        Ipv4Addr::new(b[7], b[9], b[10], b[11]),  // /56
        Ipv4Addr::new(b[9], b[10], b[11], b[12]), // /64
        last,
    ]
}

/// The IPv4 address inside an IPv6 one: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
/// (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified();
    if mapped || compatible {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Policy {
        Policy::default()
    }

    fn refused(policy: &Policy, url: &str) -> Option<&'static str> {
        let url = Url::parse(url).expect("a parsable url");
        policy.check_url(&url).err().map(|r| r.0.name())
    }

    #[test]
    fn local_use_nat64_is_judged_by_every_embedded_address() {
        let policy = strict();
        for (url, rule) in [
            ("http://[64:ff9b:1::7f00:1]/", Some("loopback-address")), // /96
            ("http://[64:ff9b:1::a9fe:a9fe]/", Some("link-local-address")), // /96
            ("http://[64:ff9b:1:a00:1:100::]/", Some("private-address")), // /48: 10.0.1.1
            ("http://[64:ff9b:1:87f:0:1::]/", Some("loopback-address")), // /56: 127.0.0.1
            ("http://[64:ff9b:1::5db8:d822]/", None),                  // /96: 93.184.216.34
        ] {
            assert_eq!(refused(&policy, url), rule, "{url}");
        }
    }

    #[test]
    fn odd_numeric_hosts_are_loopback() {
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://017700000001/",
            "http://0177.0.0.1/",
            "http://127.0.0.1./",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::127.0.0.1]/",
            "http://[2002:7f00:1::]/",
        ] {
            assert_eq!(refused(&strict(), url), Some("loopback-address"), "{url}");
        }
    }

    #[test]
    fn every_special_range_is_refused() {
        let cases = [
            ("http://10.1.2.3/", "private-address"),
            ("http://172.16.0.1/", "private-address"),
            ("http://172.31.255.255/", "private-address"),
            ("http://192.168.1.1/", "private-address"),
            ("http://100.64.0.1/", "private-address"),
            ("http://[fc00::1]/", "private-address"),
            ("http://[fd12:3456::1]/", "private-address"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "link-local-address",
            ),
            ("http://[fe80::1]/", "link-local-address"),
            ("http://[::ffff:169.254.169.254]/", "link-local-address"),
            ("http://0.0.0.0/", "unspecified-address"),
            ("http://0/", "unspecified-address"),
            ("http://[::]/", "unspecified-address"),
            ("http://224.0.0.1/", "multicast-address"),
            ("http://[ff02::1]/", "multicast-address"),
            ("http://255.255.255.255/", "broadcast-address"),
            ("http://192.0.2.10/", "documentation-address"),
            ("http://198.51.100.1/", "documentation-address"),
            ("http://203.0.113.9/", "documentation-address"),
            ("http://[2001:db8::1]/", "documentation-address"),
            ("http://240.0.0.1/", "reserved-address"),
            ("http://[::ffff:10.0.0.1]/", "private-address"),
        ];
        for (url, rule) in cases {
            assert_eq!(refused(&strict(), url), Some(rule), "{url}");
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for url in [
            "http://93.184.216.34/v.mp4",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "https://example.com/v.mp4",
        ] {
            assert_eq!(refused(&strict(), url), None, "{url}");
        }
    }

    #[test]
    fn the_switches_lift_only_their_ranges() {
        let loopback = Policy {
            allow_loopback: true,
            ..strict()
        };
        assert_eq!(refused(&loopback, "http://127.0.0.1:8080/"), None);
        assert_eq!(refused(&loopback, "http://[::1]/"), None);
        assert_eq!(
            refused(&loopback, "http://10.0.0.1/"),
            Some("private-address")
        );
        assert_eq!(
            refused(&loopback, "http://0.0.0.0/"),
            Some("unspecified-address")
        );
        let private = Policy {
            allow_private: true,
            ..strict()
        };
        assert_eq!(refused(&private, "http://10.0.0.1/"), None);
        assert_eq!(refused(&private, "http://169.254.1.1/"), None);
        assert_eq!(
            refused(&private, "http://127.0.0.1/"),
            Some("loopback-address")
        );
    }

    #[test]
    fn other_schemes_are_refused() {
        for url in [
            "file:///etc/passwd",
            "data:video/mp4;base64,AAAA",
            "ftp://example.com/v.mp4",
            "rtsp://example.com/live",
            "appsrc://",
            "fd://0",
        ] {
            assert_eq!(refused(&strict(), url), Some("scheme"), "{url}");
        }
    }

    #[test]
    fn allowlist() {
        let policy = Policy {
            allowed: [
                "media.example.com",
                "cdn.example.org:8443",
                "*.videos.example.net",
            ]
            .iter()
            .map(|p| Pattern::parse(p).unwrap())
            .collect(),
            ..strict()
        };
        assert_eq!(refused(&policy, "https://media.example.com/a.mp4"), None);
        assert_eq!(
            refused(&policy, "https://MEDIA.example.com./a.mp4"),
            Some("allowed-sources")
        );
        assert_eq!(refused(&policy, "https://cdn.example.org:8443/a"), None);
        assert_eq!(
            refused(&policy, "https://cdn.example.org/a"),
            Some("allowed-sources")
        );
        assert_eq!(refused(&policy, "http://a.videos.example.net/x"), None);
        assert_eq!(
            refused(&policy, "http://videos.example.net/x"),
            Some("allowed-sources")
        );
        assert_eq!(
            refused(&policy, "http://evilvideos.example.net/x"),
            Some("allowed-sources")
        );
        assert_eq!(
            refused(&policy, "http://other.example.com/"),
            Some("allowed-sources")
        );
        assert!(Pattern::parse("http://x/").is_err());
        assert!(Pattern::parse("x/y").is_err());
    }

    #[test]
    fn file_root_holds_against_dot_dot_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root_dir = dir.path().join("media");
        std::fs::create_dir(&root_dir).unwrap();
        std::fs::write(root_dir.join("a.mp4"), b"x").unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root_dir.join("link")).unwrap();
        let policy = Policy {
            file_root: Some(file_root(&root_dir).unwrap()),
            ..strict()
        };
        let url = |p: &Path| Url::from_file_path(p).unwrap();
        assert!(policy.check_file(&url(&root_dir.join("a.mp4"))).is_ok());
        let escape = Url::parse(&format!("file://{}/../secret", root_dir.display())).unwrap();
        assert_eq!(
            policy.check_file(&escape),
            Err(FileRefusal::Refused(Refusal(Rule::FileRoot)))
        );
        assert_eq!(
            policy.check_file(&url(&root_dir.join("link"))),
            Err(FileRefusal::Refused(Refusal(Rule::FileRoot)))
        );
        assert_eq!(
            policy.check_file(&url(&root_dir.join("none.mp4"))),
            Err(FileRefusal::Missing)
        );
        assert_eq!(
            strict().check_file(&url(&root_dir.join("a.mp4"))),
            Err(FileRefusal::Refused(Refusal(Rule::Scheme)))
        );
    }
}
