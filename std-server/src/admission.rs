//! Who gets served: a server's connection limit in all and its per-address limit from one
//! address, counted the way nginx's `limit_conn` and HAProxy's `conn_cur` count, by
//! connections open now. A connection admitted holds a [`Ticket`] for its whole life, and its
//! place is given back when the ticket drops, however the connection ends.
//!
//! An IPv6 address counts by its /64 prefix: one host is usually given a whole /64 and can
//! pick any address in it, so counting single IPv6 addresses would limit nobody.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// How many connections are served at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections in all.
    pub max_connections: NonZeroUsize,
    /// Most connections from one address (an IPv4 address, or an IPv6 /64); `None` for no
    /// limit but `max_connections`.
    pub max_per_address: Option<NonZeroUsize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The connection limit is reached.
    ServerFull,
    /// The per-address limit of the peer's address is reached.
    AddressFull,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ServerFull => "server full",
            Self::AddressFull => "server full for this address",
        })
    }
}

/// The unit the per-address limit counts: an IPv4 address, or the /64 prefix of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    /// An IPv4 address (IPv4-mapped IPv6 addresses included).
    V4(Ipv4Addr),
    /// An IPv6 address with its low 64 bits cleared.
    V6Prefix(Ipv6Addr),
}

impl AddressKey {
    /// The key that `ip`'s connections count against.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                None => Self::V6Prefix(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
            },
        }
    }
}

impl fmt::Display for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(v4) => v4.fmt(f),
            Self::V6Prefix(prefix) => write!(f, "{prefix}/64"),
        }
    }
}

/// The connections open now, in all and by address.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    open: AtomicUsize,
    /// Open connections by address; an address leaves the map when its last one closes, so
    /// the map holds only addresses that are connected. Unused when there is no per-address
    /// limit.
    by_address: Mutex<HashMap<AddressKey, usize>>,
}

impl Admission {
    /// No connection open yet.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            open: AtomicUsize::new(0),
            by_address: Mutex::new(HashMap::new()),
        }
    }

    /// The limits it keeps.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Admits a connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let mut ticket = self.admit_unaddressed()?;
        // On a refusal the ticket drops, giving its place back.
        ticket.claim_address(ip)?;
        Ok(ticket)
    }

    /// Admits a connection under the connection limit alone, before its address is known
    /// (behind a load balancer, the PROXY protocol's header names it later): the ticket
    /// counts against the per-address limit only once [`Ticket::claim_address`] is called.
    pub fn admit_unaddressed(self: &Arc<Self>) -> Result<Ticket, Refusal> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.limits.max_connections.get() {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::ServerFull);
        }
        Ok(Ticket {
            admission: self.clone(),
            key: None,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AddressKey, usize>> {
        // The map is consistent after every statement that changes it, so a panic elsewhere
        // while it was locked leaves nothing to repair.
        self.by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One admitted connection's place; given back on drop.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    key: Option<AddressKey>,
}

impl Ticket {
    /// Counts this connection against the per-address limit of `ip` (when there is one), or
    /// says the limit is reached. Once per ticket: a ticket that already counts against an
    /// address keeps it.
    pub fn claim_address(&mut self, ip: IpAddr) -> Result<(), Refusal> {
        let Some(limit) = self.admission.limits.max_per_address else {
            return Ok(());
        };
        if self.key.is_some() {
            debug_assert!(false, "a ticket claimed an address twice");
            return Ok(());
        }
        let key = AddressKey::of(ip);
        let mut by_address = self.admission.lock();
        let open = by_address.entry(key).or_insert(0);
        if *open >= limit.get() {
            return Err(Refusal::AddressFull);
        }
        *open += 1;
        drop(by_address);
        self.key = Some(key);
        Ok(())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut by_address = self.admission.lock();
            if let Some(open) = by_address.get_mut(&key) {
                *open -= 1;
                if *open == 0 {
                    by_address.remove(&key);
                }
            }
        }
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_address: usize) -> Arc<Admission> {
        Arc::new(Admission::new(Limits {
            max_connections: NonZeroUsize::new(total).unwrap(),
            max_per_address: NonZeroUsize::new(per_address),
        }))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_share_and_the_others_the_rest() {
        let admission = admission(4, 2);
        let a1 = admission.admit(ip("10.0.0.1")).unwrap();
        let _a2 = admission.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            admission.admit(ip("10.0.0.1")).unwrap_err(),
            Refusal::AddressFull
        );
        let _b1 = admission.admit(ip("10.0.0.2")).unwrap();
        let _b2 = admission.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(admission.open(), 4);
        assert_eq!(
            admission.admit(ip("10.0.0.3")).unwrap_err(),
            Refusal::ServerFull
        );
        // A refusal holds no place; a closed connection gives its place back.
        drop(a1);
        assert_eq!(admission.open(), 3);
        let _a3 = admission.admit(ip("10.0.0.1")).unwrap();
    }

    #[test]
    fn ipv6_counts_by_64_prefix_and_mapped_ipv4_as_ipv4() {
        let admission = admission(10, 1);
        let _first = admission.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            admission.admit(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Refusal::AddressFull
        );
        let _other_prefix = admission.admit(ip("2001:db8:1:3::1")).unwrap();
        let _v4 = admission.admit(ip("192.0.2.7")).unwrap();
        assert_eq!(
            admission.admit(ip("::ffff:192.0.2.7")).unwrap_err(),
            Refusal::AddressFull
        );
        assert_eq!(
            AddressKey::of(ip("2001:db8:1:2:3:4:5:6")).to_string(),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn an_address_claimed_after_admission_counts_from_then_on() {
        let admission = admission(3, 1);
        let mut first = admission.admit_unaddressed().unwrap();
        let mut second = admission.admit_unaddressed().unwrap();
        // Unaddressed tickets take places in all, and none of an address's.
        assert_eq!(admission.open(), 2);
        assert!(admission.lock().is_empty());
        first.claim_address(ip("10.0.0.1")).unwrap();
        assert_eq!(
            second.claim_address(ip("10.0.0.1")).unwrap_err(),
            Refusal::AddressFull
        );
        // Refused for its address, the ticket still holds its place until it drops.
        assert_eq!(admission.open(), 2);
        drop(second);
        assert_eq!(admission.open(), 1);
        drop(first);
        assert_eq!(admission.open(), 0);
        assert!(admission.lock().is_empty());
        let _a = admission.admit(ip("10.0.0.1")).unwrap();
    }

    #[test]
    fn without_a_per_address_limit_one_address_may_take_every_place() {
        let admission = admission(3, 0);
        let tickets: Vec<_> = (0..3)
            .map(|_| admission.admit(ip("127.0.0.1")).unwrap())
            .collect();
        assert_eq!(
            admission.admit(ip("127.0.0.1")).unwrap_err(),
            Refusal::ServerFull
        );
        drop(tickets);
        assert_eq!(admission.open(), 0);
        assert!(admission.lock().is_empty());
    }
}
