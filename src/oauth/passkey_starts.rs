//! The throttle on starting passwordless sign-ins: each start stores a WebAuthn ceremony and
//! needs nothing but a user name, so starts are counted per peer address and per user name
//! (lower-cased), with the login throttle's policy ([`super::throttle`]: 5 free per 15
//! minutes, then 1 s doubling up to 15 minutes), and a sign-in that succeeds clears both.
//! Per gateway process, like the password throttle: it keeps one client from filling the
//! store; the store's own bound (`store::memory::MAX_CEREMONIES`, the Redis TTL) is the
//! backstop against many.

use std::net::IpAddr;

use super::throttle::Throttle;

#[derive(Debug, Default)]
pub struct PasskeyStarts {
    by_peer: Throttle,
    by_name: Throttle,
}

impl PasskeyStarts {
    pub fn new() -> Self {
        PasskeyStarts::default()
    }

    /// Counts a start by `peer` for `name`; `Err(seconds)` (counting nothing) while either
    /// is locked.
    pub fn start(&self, peer: IpAddr, name: &str, now: u64) -> Result<(), u64> {
        let (peer, name) = (peer.to_string(), name.to_lowercase());
        self.by_peer.check(&peer, now)?;
        self.by_name.check(&name, now)?;
        self.by_peer.fail(&peer, now);
        self.by_name.fail(&name, now);
        Ok(())
    }

    /// A passwordless sign-in by `peer` as `name` succeeded.
    pub fn succeeded(&self, peer: IpAddr, name: &str) {
        self.by_peer.succeed(&peer.to_string());
        self.by_name.succeed(&name.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn five_starts_are_free_then_each_waits_longer() {
        let starts = PasskeyStarts::new();
        for n in 0..5 {
            assert_eq!(starts.start(PEER, &format!("user{n}"), 100), Ok(()));
        }
        assert_eq!(starts.start(PEER, "someone", 100), Err(1), "per peer");
        assert_eq!(starts.start(PEER, "someone", 101), Ok(()));
        assert_eq!(starts.start(PEER, "someone", 101), Err(2));
        // Another peer for another name is not held up.
        assert_eq!(starts.start(OTHER, "x", 101), Ok(()));
        // A success clears the peer and the name.
        starts.succeeded(PEER, "someone");
        assert_eq!(starts.start(PEER, "y", 101), Ok(()));
    }

    #[test]
    fn one_name_from_many_peers_is_held_up_too() {
        let starts = PasskeyStarts::new();
        for n in 0..5u8 {
            let peer = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, n));
            assert_eq!(
                starts.start(peer, if n % 2 == 0 { "Alice" } else { "alice" }, 0),
                Ok(())
            );
        }
        assert_eq!(starts.start(OTHER, "ALICE", 0), Err(1));
        assert_eq!(starts.start(OTHER, "bob", 0), Ok(()));
    }
}
