//! Open connections per client IP, capped: the accept loop counts TCP connections with it and
//! the websocket handler counts websockets. A slot is held by a guard and freed when the guard
//! drops, so a connection that ends in any way (error, panic, shutdown) gives its slot back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts of open connections by client IP, with a cap per IP (0 = no cap).
#[derive(Debug)]
pub struct ConnectionLimiter {
    max_per_ip: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open connection of `ip`; frees its slot on drop.
#[derive(Debug)]
pub struct ConnectionSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ConnectionLimiter {
    pub fn new(max_per_ip: usize) -> Self {
        Self {
            max_per_ip,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for `ip`, or `None` when it already has `max_per_ip` open connections.
    pub fn try_acquire(&self, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_default();
        if self.max_per_ip > 0 && *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            ip,
            open: self.open.clone(),
        })
    }

    /// Open connections of `ip`.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_ip_and_freed_on_drop() {
        let limiter = ConnectionLimiter::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limiter.try_acquire(a).unwrap();
        let _second = limiter.try_acquire(a).unwrap();
        assert!(limiter.try_acquire(a).is_none());
        assert!(limiter.try_acquire(b).is_some());
        drop(first);
        assert!(limiter.try_acquire(a).is_some());
        assert_eq!(limiter.open(b), 0);
    }
}
