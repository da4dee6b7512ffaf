//! The failed-authentication throttle, and the client address it keys on.
//!
//! Authentication runs first and the throttle only decides how a *failure* is answered: past its
//! allowance an address gets 429 (with `Retry-After`) instead of 401. A valid token is always
//! served, so one client sending bad tokens cannot lock out the others that share its address
//! (every client behind a load balancer, or a NAT), and a guesser gains nothing it could not get
//! from a 401. What the throttle saves is the store: a failure past the allowance writes no
//! audit row, so a flood of bad tokens cannot flood the audit log.
//!
//! Memory is bounded: a window that has ended is pruned (at most once a window), and the map
//! holds at most [`MAX_TRACKED`] addresses; when it is full the oldest windows are dropped.
//! IPv6 addresses are counted per /64, the block one subscriber usually holds, so rotating
//! through one's own prefix does not reset the count.
//!
//! The client address is the TCP peer's, unless the peer is a trusted proxy (`--trusted-proxy`):
//! then it is the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy. Entries
//! left of that one were written by the client and are ignored.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Failed authentications from one address within [`AUTH_WINDOW`] answered 401; later failures
/// in the window are answered 429.
pub const AUTH_FAILURES_ALLOWED: u32 = 20;
/// The window for counting failed authentications.
pub const AUTH_WINDOW: Duration = Duration::from_secs(60);
/// Most addresses tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// One address's failures in its current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Failure counts per address.
#[derive(Debug)]
pub struct Throttle {
    allowed: u32,
    window: Duration,
    cap: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    map: HashMap<IpAddr, Window>,
    pruned: Instant,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(AUTH_FAILURES_ALLOWED, AUTH_WINDOW, MAX_TRACKED)
    }
}

/// The key an address is counted under: IPv4 (and IPv4-mapped IPv6) as is, IPv6 by its /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

impl Throttle {
    /// A throttle allowing `allowed` failures per `window`, tracking at most `cap` addresses.
    pub fn new(allowed: u32, window: Duration, cap: usize) -> Self {
        Throttle {
            allowed,
            window,
            cap: cap.max(1),
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                pruned: Instant::now(),
            }),
        }
    }

    /// Whether a failure from `ip` now would be past the allowance (so it is answered 429 and
    /// not audited).
    pub fn over(&self, ip: IpAddr, now: Instant) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.map.get(&bucket(ip)).is_some_and(|w| {
            now.duration_since(w.started) < self.window && w.failures >= self.allowed
        })
    }

    /// Counts a failed authentication from `ip`. When it is past the allowance, returns how long
    /// until the window ends (the `Retry-After`).
    pub fn fail(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let key = bucket(ip);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(inner.pruned) >= self.window {
            self.prune(&mut inner.map, now);
            inner.pruned = now;
        }
        if inner.map.len() >= self.cap && !inner.map.contains_key(&key) {
            self.prune(&mut inner.map, now);
            inner.pruned = now;
            if inner.map.len() >= self.cap {
                // Drop the oldest tenth at once, so a flood of new addresses sorts rarely.
                let mut ages: Vec<(Instant, IpAddr)> =
                    inner.map.iter().map(|(k, w)| (w.started, *k)).collect();
                ages.sort_unstable();
                let drop = (self.cap / 10).max(1) + inner.map.len() - self.cap;
                for (_, k) in ages.into_iter().take(drop) {
                    inner.map.remove(&k);
                }
            }
        }
        let w = inner.map.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(w.started) >= self.window {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
        (w.failures > self.allowed)
            .then(|| self.window.saturating_sub(now.duration_since(w.started)))
    }

    fn prune(&self, map: &mut HashMap<IpAddr, Window>, now: Instant) {
        map.retain(|_, w| now.duration_since(w.started) < self.window);
    }

    /// How many addresses are tracked.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Who is calling: the address to throttle on and the `remote` written to audit rows.
#[derive(Debug, Clone, Default)]
pub struct ClientAddr {
    /// The client's IP address, when known.
    pub ip: Option<IpAddr>,
    /// As written to audit rows: `ip:port` for a direct peer, the IP alone when it came from
    /// `X-Forwarded-For`.
    pub remote: Option<String>,
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|n| n.contains(&ip))
}

fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    e.parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            e.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse::<IpAddr>().ok())
        })
        .map(|ip| ip.to_canonical())
}

/// The client behind a request from `peer`: the peer itself, or, when the peer is a trusted
/// proxy, the rightmost `X-Forwarded-For` address that is not a trusted proxy. A malformed
/// entry stops the walk at the last trusted hop (the client cannot be told, so it is counted as
/// that proxy).
pub fn client_addr(peer: Option<SocketAddr>, headers: &HeaderMap, proxies: &[IpNet]) -> ClientAddr {
    let Some(peer) = peer else {
        return ClientAddr::default();
    };
    let direct = ClientAddr {
        ip: Some(peer.ip().to_canonical()),
        remote: Some(peer.to_string()),
    };
    if proxies.is_empty() || !trusted(peer.ip(), proxies) {
        return direct;
    }
    let mut hop = peer.ip().to_canonical();
    let values = headers.get_all("x-forwarded-for");
    let mut entries: Vec<Option<IpAddr>> = Vec::new();
    for v in values {
        match v.to_str() {
            Ok(s) => entries.extend(s.split(',').map(parse_forwarded)),
            Err(_) => entries.push(None),
        }
    }
    for entry in entries.into_iter().rev() {
        let Some(ip) = entry else { break };
        hop = ip;
        if !trusted(ip, proxies) {
            break;
        }
    }
    if hop == peer.ip().to_canonical() {
        return direct;
    }
    ClientAddr {
        ip: Some(hop),
        remote: Some(hop.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn twenty_failures_are_401_then_429_until_the_window_ends() {
        let t = Throttle::new(20, Duration::from_secs(60), 100);
        let t0 = Instant::now();
        for _ in 0..20 {
            assert!(t.fail(ip("10.0.0.1"), t0).is_none());
        }
        assert!(t.over(ip("10.0.0.1"), t0));
        let after = t
            .fail(ip("10.0.0.1"), t0 + Duration::from_millis(500))
            .unwrap();
        assert_eq!(retry_after_secs(after), 60);
        // Another address is not affected.
        assert!(!t.over(ip("10.0.0.2"), t0));
        assert!(t.fail(ip("10.0.0.2"), t0).is_none());
        // The window ends: the address starts over.
        let later = t0 + Duration::from_secs(61);
        assert!(!t.over(ip("10.0.0.1"), later));
        assert!(t.fail(ip("10.0.0.1"), later).is_none());
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let t = Throttle::new(1, Duration::from_secs(60), 100);
        let now = Instant::now();
        assert!(t.fail(ip("2001:db8:1:2::1"), now).is_none());
        assert!(t.fail(ip("2001:db8:1:2:ffff::9"), now).is_some());
        assert!(t.fail(ip("2001:db8:1:3::1"), now).is_none());
        assert!(t.fail(ip("192.0.2.7"), now).is_none());
        assert!(t.fail(ip("::ffff:192.0.2.7"), now).is_some());
    }

    #[test]
    fn a_hundred_thousand_addresses_stay_bounded() {
        let t = Throttle::new(20, Duration::from_secs(60), MAX_TRACKED);
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            t.fail(addr, t0 + Duration::from_micros(u64::from(i)));
            assert!(t.tracked() <= MAX_TRACKED, "grew to {}", t.tracked());
        }
        assert!(t.tracked() > MAX_TRACKED / 2);
        // The newest addresses are the ones kept.
        let last = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + 99_999));
        for _ in 0..20 {
            t.fail(last, t0 + Duration::from_secs(1));
        }
        assert!(t.over(last, t0 + Duration::from_secs(1)));
        // Once every window has ended, the next failure prunes them all.
        t.fail(ip("192.0.2.1"), t0 + Duration::from_secs(120));
        assert_eq!(t.tracked(), 1);
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let lb: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let outsider: SocketAddr = "198.51.100.9:5000".parse().unwrap();
        // The rightmost untrusted entry; the client's own claims to its left are ignored.
        let c = client_addr(
            Some(lb),
            &xff(&["1.1.1.1, 203.0.113.5, 10.9.9.9"]),
            &proxies,
        );
        assert_eq!(c.ip, Some(ip("203.0.113.5")));
        assert_eq!(c.remote.as_deref(), Some("203.0.113.5"));
        // Several header lines are one list.
        let c = client_addr(Some(lb), &xff(&["203.0.113.5", "10.9.9.9"]), &proxies);
        assert_eq!(c.ip, Some(ip("203.0.113.5")));
        // An untrusted peer's header is ignored.
        let c = client_addr(Some(outsider), &xff(&["203.0.113.5"]), &proxies);
        assert_eq!(c.ip, Some(ip("198.51.100.9")));
        assert_eq!(c.remote.as_deref(), Some("198.51.100.9:5000"));
        // No header: the proxy itself.
        let c = client_addr(Some(lb), &HeaderMap::new(), &proxies);
        assert_eq!(c.ip, Some(ip("10.1.2.3")));
        // Garbage stops the walk at the last trusted hop.
        let c = client_addr(
            Some(lb),
            &xff(&["203.0.113.5, garbage, 10.9.9.9"]),
            &proxies,
        );
        assert_eq!(c.ip, Some(ip("10.9.9.9")));
        // No proxies configured: never believed.
        let c = client_addr(Some(lb), &xff(&["203.0.113.5"]), &[]);
        assert_eq!(c.ip, Some(ip("10.1.2.3")));
        // Ports and brackets are tolerated.
        let c = client_addr(Some(lb), &xff(&["[2001:db8::1]:443"]), &proxies);
        assert_eq!(c.ip, Some(ip("2001:db8::1")));
    }
}
