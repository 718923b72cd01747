//! The source policy: any URL text. Whatever the parser makes of a host, an address the policy
//! lets through is not loopback, private or link-local.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pythumbio::source::policy::{classify, Policy};
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(url) = url::Url::parse(text) else {
        return;
    };
    let strict = Policy::default();
    if strict.check_url(&url).is_ok() {
        assert!(matches!(url.scheme(), "http" | "https"), "{url}");
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = ip {
            assert_eq!(classify(ip), None, "{url} passed as {ip}");
        }
    }
    let _ = strict.check_file(&url);
});
