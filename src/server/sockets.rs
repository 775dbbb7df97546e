//! Where listening sockets come from: inherited from a service manager (systemd socket
//! activation, `LISTEN_FDS`), or bound here — with `SO_REUSEPORT` when `server.reuse_port` asks,
//! so that a new shelf can start on the address of one that is still draining.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Mutex;

use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};

/// Pending connections the kernel queues per listener (std's `bind` uses 128).
const BACKLOG: i32 = 1024;

/// Sockets handed over by the service manager and not yet claimed by a listen address.
/// Process-wide: they belong to the process (inherited at exec), not to one `Server`.
static INHERITED: Mutex<Vec<TcpListener>> = Mutex::new(Vec::new());

/// Keeps `listeners` (from `LISTEN_FDS`) for the listen addresses they are bound to: a
/// configured address with an inherited socket uses it instead of binding.
pub fn inherit(listeners: Vec<TcpListener>) {
    lock().extend(listeners);
}

/// The inherited sockets no listen address claimed, by address: nothing serves them.
pub fn unclaimed() -> Vec<SocketAddr> {
    lock().iter().filter_map(|l| l.local_addr().ok()).collect()
}

fn lock() -> std::sync::MutexGuard<'static, Vec<TcpListener>> {
    INHERITED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A listener for `addr`: the inherited socket bound to it, or a new one.
pub(super) fn listener(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    if let Some(inherited) = take_inherited(addr) {
        log::info!("listening on {addr} through a socket from the service manager");
        return Ok(inherited);
    }
    match reuse_port {
        true => bind_reusing_port(addr),
        false => TcpListener::bind(addr),
    }
}

fn take_inherited(addr: SocketAddr) -> Option<TcpListener> {
    let mut inherited = lock();
    let at = inherited
        .iter()
        .position(|l| l.local_addr().is_ok_and(|a| a == addr))?;
    Some(inherited.swap_remove(at))
}

/// Binds with `SO_REUSEPORT`: several processes may then listen on `addr` at once, and the
/// kernel spreads new connections among them (Linux: only among sockets of the same user).
fn bind_reusing_port(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    // As std's `bind` does: a restarted server must not wait out TIME_WAIT.
    sockopt::set_socket_reuseaddr(&fd, true)?;
    sockopt::set_socket_reuseport(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    rustix::net::listen(&fd, BACKLOG)?;
    Ok(TcpListener::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_reusing_listeners_share_an_address() {
        let first = bind_reusing_port("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = bind_reusing_port(addr).unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);
        // Without the option the address is taken.
        assert!(TcpListener::bind(addr).is_err());
    }

    #[test]
    fn an_inherited_socket_serves_its_address() {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        inherit(vec![socket]);
        assert!(unclaimed().contains(&addr));
        let listener = listener(addr, false).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);
        assert!(!unclaimed().contains(&addr));
    }
}
