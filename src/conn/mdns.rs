//! The multicast DNS driver: one UDP socket on 0.0.0.0:5353 feeding [`crate::proto::mdns`], so
//! `<mdns.name>.local` resolves on the LAN without a separate daemon (RFC 6762).
//!
//! Socket: SO_REUSEADDR and SO_REUSEPORT (another responder on the box may share the port),
//! joined to 224.0.0.251 on every interface that is up and multicast-capable, multicast TTL 255
//! (§11), multicast loop on so that programs on the box itself can ask too (our own packets come
//! back and are harmless: our responses carry our own addresses, our probes are queries sent
//! while nothing is answered). IPv4 only; AAAA records are still given over IPv4. If the port
//! cannot be bound the server logs a warning and runs without mDNS.
//!
//! Addresses: the kernel has no per-packet arrival interface for us without IP_PKTINFO (which
//! rustix's safe API does not offer), so the address answered is the one the kernel would use
//! as the source when talking back to the querier (a connected UDP socket's local address: a
//! route lookup, no packet sent), cached per querier between refreshes. The interface is the one
//! whose connected route (`/proc/net/route`) holds that address; its IPv6 addresses come from
//! `/proc/net/if_inet6` (tentative and failed ones left out). Those files and `/sys/class/net`
//! are read on the blocking pool every [`REFRESH`] ([`RETRY`] until there is an address). On a
//! Pi with one wired interface this is that interface's address; on loopback it is 127.0.0.1.
//!
//! Announcements go out from the address the route to 224.0.0.251 leaves from; on a LAN
//! without a router (no default route, nothing routes the group) there is no such route, so
//! they go out from the first multicast-capable interface that holds an IPv4 address of one of
//! its connected networks ([`HostNet::announce_from`]): the group is link-local (§3) and needs
//! no router. Without that, a box on an isolated LAN would never announce and, since nothing is
//! answered before the announcement, never answer.
//!
//! Sequence (§8): once an address exists, three probes 250 ms apart after a random 0–250 ms
//! wait, then two announcements one second apart; when the addresses change, two announcements
//! again; at shutdown a goodbye (TTL 0, §10.1). A host answering for our name with other
//! addresses is logged as a conflict (at most once a minute); the name is not changed, the
//! operator is told to set `mdns.name`. Simultaneous-probe tie-breaking (§8.2) is not done.
//!
//! Invariants: queries from off-link sources are ignored (§11: the source must be on a
//! connected network, loopback or 169.254/16); datagrams over 9000 bytes are dropped; the
//! per-querier cache holds at most [`MAX_CACHED_ROUTES`] entries; no `RefCell` borrow is held
//! across an `.await`; no file is read on the executor thread.

use crate::proto::mdns::{Addresses, Dest, GROUP_V4, MAX_PACKET_BYTES, Outcome, PORT, Responder};
use async_io::{Async, Timer};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

/// How often interfaces and addresses are read again once announced.
pub const REFRESH: Duration = Duration::from_secs(30);
/// How often they are read while there is no address yet (a board booting before DHCP).
pub const RETRY: Duration = Duration::from_secs(5);
/// Queriers whose answering address is remembered between refreshes.
pub const MAX_CACHED_ROUTES: usize = 256;
/// Shortest interval between two conflict warnings.
const CONFLICT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The host's interfaces as the responder needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostNet {
    /// Connected IPv4 networks (no gateway): interface, network, mask (host byte order).
    pub routes: Vec<(String, u32, u32)>,
    /// IPv6 addresses usable in answers, by interface.
    pub v6: Vec<(String, Ipv6Addr)>,
    /// Interfaces up and multicast-capable (loopback excluded): name and index.
    pub links: Vec<(String, u32)>,
    /// Of those, each one holding an IPv4 address of its own connected network: the address
    /// it sends to the group from. In the order of `links`.
    pub link_v4: Vec<(String, Ipv4Addr)>,
    /// Where the route to 224.0.0.251 leaves from, if there is one.
    pub group_route: Option<Ipv4Addr>,
}

impl HostNet {
    /// Reads the host's interfaces and the group's route (blocking: file reads and socket
    /// calls; run it on the blocking pool).
    pub fn read() -> HostNet {
        let text = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let mut links = Vec::new();
        if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
            for entry in dir.flatten().take(64) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let base = entry.path();
                let read = |f: &str| std::fs::read_to_string(base.join(f)).unwrap_or_default();
                let index = read("ifindex").trim().parse::<u32>().ok();
                let flags = parse_hex(read("flags").trim().trim_start_matches("0x"));
                if let (Some(index), Some(flags)) = (index, flags)
                    && flags & IFF_UP != 0
                    && flags & IFF_MULTICAST != 0
                    && flags & IFF_LOOPBACK == 0
                {
                    links.push((name, index));
                }
            }
        }
        links.sort_by_key(|l| l.1);
        let mut net = HostNet {
            routes: parse_routes(&text("/proc/net/route")),
            v6: parse_if_inet6(&text("/proc/net/if_inet6")),
            links,
            link_v4: Vec::new(),
            group_route: route_source(GROUP_V4),
        };
        net.link_v4 = net.link_addresses(group_source);
        net
    }

    /// The address each link sends to the group from, as `source` (given the interface index)
    /// finds it, kept only when it belongs to a connected network of that same link (the
    /// kernel picks another interface's address for a link that has none).
    pub fn link_addresses(
        &self,
        source: impl Fn(u32) -> Option<Ipv4Addr>,
    ) -> Vec<(String, Ipv4Addr)> {
        self.links
            .iter()
            .filter_map(|(name, index)| {
                let a = source(*index)?;
                (self.interface_of(a) == Some(name.as_str())).then(|| (name.clone(), a))
            })
            .collect()
    }

    /// The address announcements go out from: `routed` (where the route to the group leaves
    /// from) when there is one, else the first link's own address (a LAN without a router).
    pub fn announce_from(&self, routed: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        routed.or_else(|| self.link_v4.first().map(|(_, a)| *a))
    }

    /// The interface that holds local address `local` (`lo` for loopback).
    pub fn interface_of(&self, local: Ipv4Addr) -> Option<&str> {
        if local.is_loopback() {
            return Some("lo");
        }
        let ip = u32::from(local);
        self.routes
            .iter()
            .filter(|(_, net, mask)| ip & mask == *net)
            .max_by_key(|(_, _, mask)| mask.count_ones())
            .map(|(name, _, _)| name.as_str())
    }

    /// Whether `src` may send us mDNS: on a connected network, loopback or IPv4 link-local (§11).
    pub fn on_link(&self, src: Ipv4Addr) -> bool {
        src.is_loopback() || src.is_link_local() || self.interface_of(src).is_some()
    }

    /// What to answer on the interface whose local address is `local`.
    pub fn addresses(&self, local: Ipv4Addr) -> Addresses {
        let iface = self.interface_of(local);
        Addresses {
            v4: vec![local],
            v6: self
                .v6
                .iter()
                .filter(|(name, _)| Some(name.as_str()) == iface)
                .map(|(_, a)| *a)
                .collect(),
        }
    }
}

const IFF_UP: u32 = 0x1;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_MULTICAST: u32 = 0x1000;
/// `/proc/net/if_inet6` flags of addresses not usable yet or at all.
const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_TENTATIVE: u32 = 0x40;

fn parse_hex(s: &str) -> Option<u32> {
    u32::from_str_radix(s, 16).ok()
}

/// Connected networks from `/proc/net/route`: gateway 0, route up (flag 1). The file prints each
/// address as the native-endian value of its network-order bytes.
pub fn parse_routes(text: &str) -> Vec<(String, u32, u32)> {
    let word = |s: &str| parse_hex(s).map(|w| u32::from(Ipv4Addr::from(w.to_ne_bytes())));
    text.lines()
        .skip(1)
        .take(1024)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (name, dest, gw, flags, mask) =
                (f.first()?, f.get(1)?, f.get(2)?, f.get(3)?, f.get(7)?);
            let (dest, gw, flags, mask) = (word(dest)?, word(gw)?, parse_hex(flags)?, word(mask)?);
            (gw == 0 && flags & 1 == 1 && mask != 0)
                .then(|| ((*name).to_string(), dest & mask, mask))
        })
        .collect()
}

/// Usable addresses from `/proc/net/if_inet6`: `addr ifindex prefix scope flags name`.
pub fn parse_if_inet6(text: &str) -> Vec<(String, Ipv6Addr)> {
    text.lines()
        .take(1024)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (hex, flags, name) = (f.first()?, f.get(4)?, f.get(5)?);
            if hex.len() != 32 || parse_hex(flags)? & (IFA_F_TENTATIVE | IFA_F_DADFAILED) != 0 {
                return None;
            }
            let addr = Ipv6Addr::from(u128::from_str_radix(hex, 16).ok()?);
            Some(((*name).to_string(), addr))
        })
        .collect()
}

/// The local address the kernel would send from to reach `dest` (a route lookup: connecting a
/// UDP socket sends nothing).
fn route_source(dest: Ipv4Addr) -> Option<Ipv4Addr> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    s.connect((dest, PORT)).ok()?;
    connected_from(&s)
}

/// The local address of connected socket `s`, if the route lookup gave it one.
fn connected_from(s: &UdpSocket) -> Option<Ipv4Addr> {
    match s.local_addr().ok()?.ip() {
        IpAddr::V4(a) if !a.is_unspecified() => Some(a),
        _ => None,
    }
}

/// The address interface `index` sends to the group from: IP_MULTICAST_IF makes the route
/// lookup of a connect to 224.0.0.251 take that interface, routes or not (no packet is sent).
fn group_source(index: u32) -> Option<Ipv4Addr> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    rustix::net::sockopt::set_ip_multicast_if_with_ifindex(
        &s,
        &GROUP_V4,
        &Ipv4Addr::UNSPECIFIED,
        index,
    )
    .ok()?;
    s.connect((GROUP_V4, PORT)).ok()?;
    connected_from(&s)
}

/// Binds the mDNS socket on `port` (5353 but in tests).
pub fn bind(port: u16) -> std::io::Result<UdpSocket> {
    use rustix::net::{AddressFamily, SocketType, sockopt};
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    sockopt::set_socket_reuseport(&fd, true)?;
    rustix::net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
    let sock = UdpSocket::from(fd);
    sock.set_multicast_ttl_v4(255)?;
    sock.set_multicast_loop_v4(true)?;
    sock.set_ttl(255)?;
    Ok(sock)
}

struct State {
    responder: Responder,
    net: HostNet,
    /// Querier → the local address answered to it; cleared at each refresh.
    routes: HashMap<Ipv4Addr, Option<Ipv4Addr>>,
    last_conflict: Option<Instant>,
}

impl State {
    fn local_for(&mut self, src: Ipv4Addr) -> Option<Ipv4Addr> {
        if let Some(hit) = self.routes.get(&src) {
            return *hit;
        }
        if self.routes.len() >= MAX_CACHED_ROUTES {
            self.routes.clear();
        }
        let local = route_source(src);
        self.routes.insert(src, local);
        local
    }
}

/// Answers for `label`.local until shutdown. Returns at once (after a warning) when the name is
/// invalid or the port cannot be bound: the other roles carry on.
pub async fn run(label: String, shutdown: async_channel::Receiver<()>) {
    let responder = match Responder::new(std::slice::from_ref(&label)) {
        Ok(r) => r,
        Err(e) => {
            log::warn!("not answering: {e}; set mdns.name");
            return;
        }
    };
    let name = responder.names()[0].clone();
    let sock = match bind(PORT).and_then(Async::new) {
        Ok(s) => s,
        Err(e) => {
            log::warn!(
                "cannot listen on 0.0.0.0:{PORT} ({e}): {name} will not resolve on the LAN \
                 (is another mDNS responder holding the port without SO_REUSEPORT?); other roles carry on"
            );
            return;
        }
    };
    let state = RefCell::new(State {
        responder,
        net: HostNet::default(),
        routes: HashMap::new(),
        last_conflict: None,
    });
    let announced = RefCell::new(None::<Addresses>);
    let stopped = async {
        let _ = shutdown.recv().await;
    };
    futures_lite::future::or(
        futures_lite::future::or(
            receive(&sock, &state),
            announce(&sock, &state, &announced, &name),
        ),
        stopped,
    )
    .await;
    let last = announced.borrow_mut().take();
    if let Some(addrs) = last {
        let bytes = state
            .borrow_mut()
            .responder
            .announce(&addrs, Instant::now(), true);
        send_multicast(&sock, &bytes, addrs.v4.first().copied()).await;
    }
}

async fn receive(sock: &Async<UdpSocket>, state: &RefCell<State>) {
    let mut buf = vec![0u8; MAX_PACKET_BYTES + 1];
    loop {
        let (n, src) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                log::debug!("receive failed: {e}");
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let SocketAddr::V4(src4) = src else { continue };
        if n > MAX_PACKET_BYTES {
            continue;
        }
        let (outcome, local) = {
            let mut st = state.borrow_mut();
            if !st.net.on_link(*src4.ip()) {
                continue;
            }
            let Some(local) = st.local_for(*src4.ip()) else {
                continue;
            };
            let addrs = st.net.addresses(local);
            let now = Instant::now();
            (st.responder.handle(&buf[..n], src, &addrs, now), local)
        };
        match outcome {
            Outcome::Ignore => {}
            Outcome::Send(reply) => match reply.dest {
                Dest::Multicast => send_multicast(sock, &reply.bytes, Some(local)).await,
                Dest::Unicast(to) => {
                    if let Err(e) = sock.send_to(&reply.bytes, to).await {
                        log::debug!("answer to {to} failed: {e}");
                    }
                }
            },
            Outcome::Conflict(c) => {
                let mut st = state.borrow_mut();
                let now = Instant::now();
                if st
                    .last_conflict
                    .is_none_or(|t| now.duration_since(t) >= CONFLICT_LOG_INTERVAL)
                {
                    st.last_conflict = Some(now);
                    let theirs: Vec<String> = c.theirs.iter().map(ToString::to_string).collect();
                    log::warn!(
                        "name conflict: {src} answers for {} with {} (not ours): two devices use \
                         the same name; give this box another with `mailnook config set mdns.name NAME`",
                        c.name,
                        theirs.join(", ")
                    );
                }
            }
        }
    }
}

/// Sends to the group on the interface whose address is `via` (the default one if `None`).
async fn send_multicast(sock: &Async<UdpSocket>, bytes: &[u8], via: Option<Ipv4Addr>) {
    if let Some(via) = via
        && let Err(e) = rustix::net::sockopt::set_ip_multicast_if(sock.get_ref(), &via)
    {
        log::debug!("cannot send via {via}: {e}");
        return;
    }
    if let Err(e) = sock.send_to(bytes, (GROUP_V4, PORT)).await {
        log::debug!("multicast failed: {e}");
    }
}

/// Keeps the interfaces, group memberships and announcements current.
async fn announce(
    sock: &Async<UdpSocket>,
    state: &RefCell<State>,
    announced: &RefCell<Option<Addresses>>,
    name: &str,
) {
    let mut joined: Vec<u32> = Vec::new();
    loop {
        let net = blocking::unblock(HostNet::read).await;
        for (iface, index) in &net.links {
            if joined.contains(index) {
                continue;
            }
            match rustix::net::sockopt::set_ip_add_membership_with_ifindex(
                sock.get_ref(),
                &GROUP_V4,
                &Ipv4Addr::UNSPECIFIED,
                *index,
            ) {
                Ok(()) | Err(rustix::io::Errno::ADDRINUSE) => joined.push(*index),
                Err(e) => log::warn!("cannot join {GROUP_V4} on {iface}: {e}"),
            }
        }
        // The address the group is reached from: the interface announcements go out on.
        let local = net.announce_from(net.group_route);
        let addrs = local.map(|l| net.addresses(l)).unwrap_or_default();
        {
            let mut st = state.borrow_mut();
            st.net = net;
            st.routes.clear();
        }
        let changed = announced.borrow().as_ref() != Some(&addrs);
        if changed && !addrs.is_empty() {
            if !state.borrow().responder.is_live() {
                probe(sock, state, &addrs).await;
            }
            for i in 0..2 {
                if i > 0 {
                    Timer::after(Duration::from_secs(1)).await;
                }
                let bytes = state
                    .borrow_mut()
                    .responder
                    .announce(&addrs, Instant::now(), false);
                send_multicast(sock, &bytes, local).await;
            }
            let list: Vec<String> = addrs
                .v4
                .iter()
                .map(ToString::to_string)
                .chain(addrs.v6.iter().map(ToString::to_string))
                .collect();
            log::info!("answering for {name} ({})", list.join(", "));
            *announced.borrow_mut() = Some(addrs);
        }
        let wait = if announced.borrow().is_some() {
            REFRESH
        } else {
            RETRY
        };
        Timer::after(wait).await;
    }
}

/// Three probes 250 ms apart after a random wait of up to 250 ms (§8.1). Answers to them show up
/// in [`receive`] as conflicts.
async fn probe(sock: &Async<UdpSocket>, state: &RefCell<State>, addrs: &Addresses) {
    let mut r = [0u8; 1];
    let _ = getrandom::fill(&mut r);
    Timer::after(Duration::from_millis(u64::from(r[0]) * 250 / 256)).await;
    let bytes = state.borrow().responder.probe(addrs);
    for _ in 0..3 {
        send_multicast(sock, &bytes, addrs.v4.first().copied()).await;
        Timer::after(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
        eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        wlan0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
    const INET6: &str = "00000000000000000000000000000001 01 80 10 80       lo\n\
        fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
        fd000000000000000000000000000002 04 40 00 82     eth0\n\
        fd000000000000000000000000000003 04 40 00 40     eth0\n\
        fd000000000000000000000000000009 05 40 00 00    wlan0\n";

    fn net() -> HostNet {
        HostNet {
            routes: parse_routes(ROUTE),
            v6: parse_if_inet6(INET6),
            links: vec![],
            link_v4: vec![],
            group_route: None,
        }
    }

    /// A LAN without a router: eth0's connected network only, no default route.
    fn no_router() -> HostNet {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        HostNet {
            routes: parse_routes(route),
            links: vec![("eth0".into(), 2), ("eth1".into(), 3), ("eth2".into(), 4)],
            ..HostNet::default()
        }
    }

    #[test]
    fn links_keep_only_addresses_of_their_own_networks() {
        let n = no_router();
        let found = n.link_addresses(|index| match index {
            2 => Some(Ipv4Addr::new(10, 0, 2, 15)),
            // No IPv4 address of its own: the kernel offers another interface's.
            3 => Some(Ipv4Addr::new(10, 0, 2, 15)),
            _ => None,
        });
        assert_eq!(found, vec![("eth0".into(), Ipv4Addr::new(10, 0, 2, 15))]);
    }

    #[test]
    fn without_a_route_to_the_group_announcements_leave_from_the_first_link() {
        let mut n = no_router();
        assert_eq!(
            n.announce_from(None),
            None,
            "no address yet: nothing to announce"
        );
        n.link_v4 = vec![("eth0".into(), Ipv4Addr::new(10, 0, 2, 15))];
        assert_eq!(n.announce_from(None), Some(Ipv4Addr::new(10, 0, 2, 15)));
        let routed = Ipv4Addr::new(192, 168, 1, 5);
        assert_eq!(n.announce_from(Some(routed)), Some(routed));
        assert_eq!(
            n.addresses(Ipv4Addr::new(10, 0, 2, 15)).v4,
            vec![Ipv4Addr::new(10, 0, 2, 15)]
        );
    }

    #[test]
    fn connected_routes_are_read_in_host_order() {
        assert_eq!(
            parse_routes(ROUTE),
            vec![
                (
                    "eth0".to_string(),
                    u32::from(Ipv4Addr::new(192, 0, 2, 0)),
                    0xffff_ff00
                ),
                (
                    "wlan0".to_string(),
                    u32::from(Ipv4Addr::new(192, 168, 1, 0)),
                    0xffff_ff00
                ),
            ]
        );
        assert!(parse_routes("garbage\nx y z\n").is_empty());
    }

    #[test]
    fn tentative_ipv6_addresses_are_left_out() {
        let v6 = parse_if_inet6(INET6);
        assert!(v6.contains(&("eth0".to_string(), "fd00::2".parse().unwrap())));
        assert!(
            !v6.iter()
                .any(|(_, a)| *a == "fd00::3".parse::<Ipv6Addr>().unwrap())
        );
    }

    #[test]
    fn answers_carry_the_interfaces_own_addresses() {
        let n = net();
        let eth = n.addresses(Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(eth.v4, vec![Ipv4Addr::new(192, 0, 2, 2)]);
        assert_eq!(
            eth.v6,
            vec![
                "fe80::fc:ff:fe00:1".parse::<Ipv6Addr>().unwrap(),
                "fd00::2".parse().unwrap()
            ]
        );
        let wlan = n.addresses(Ipv4Addr::new(192, 168, 1, 5));
        assert_eq!(wlan.v6, vec!["fd00::9".parse::<Ipv6Addr>().unwrap()]);
        let lo = n.addresses(Ipv4Addr::LOCALHOST);
        assert_eq!(lo.v6, vec![Ipv6Addr::LOCALHOST]);
    }

    #[test]
    fn only_on_link_sources_are_heard() {
        let n = net();
        assert!(n.on_link(Ipv4Addr::new(192, 0, 2, 77)));
        assert!(n.on_link(Ipv4Addr::LOCALHOST));
        assert!(n.on_link(Ipv4Addr::new(169, 254, 3, 4)));
        assert!(!n.on_link(Ipv4Addr::new(8, 8, 8, 8)));
    }
}
