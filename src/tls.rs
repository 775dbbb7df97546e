//! HTTPS: the rustls server configuration, a certificate that can be swapped while connections
//! run, PEM loading, and the handshake on a connection's thread. The self-signed certificate,
//! kept between runs, is `self_signed`'s.
//!
//! A TLS connection is a `rustls::StreamOwned` over the accepted `TcpStream`; once its handshake
//! is done it runs the very same request loop as plain HTTP (`conn::serve`).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::config::TlsConfig;
use crate::http::response::Output;
use crate::transport::Transport;

mod self_signed;

/// A TLS connection after its handshake: what `conn::serve` runs on.
pub type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// Where the served certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `tls.cert` and `tls.key`.
    Files { cert: PathBuf, key: PathBuf },
    /// Self-signed (`tls.cert = ""`) for `names`, kept in `dir` between runs (`None`: made for
    /// this run only).
    SelfSigned {
        dir: Option<PathBuf>,
        names: Vec<String>,
    },
}

impl Source {
    /// The source `tls` asks for.
    pub fn of(tls: &TlsConfig) -> Source {
        match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => Source::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => Source::SelfSigned {
                dir: tls.self_signed_dir.clone(),
                names: tls.self_signed_names(),
            },
        }
    }
}

/// A certificate chain and its key, ready to serve.
pub struct Identity {
    key: Arc<CertifiedKey>,
    /// SHA-256 of the leaf certificate, `AA:BB:…`.
    fingerprint: String,
    source: Source,
}

impl Identity {
    /// Loads the PEM files of `source`, or the self-signed certificate (reused or generated,
    /// which one line logs). The key must match the leaf certificate: a half-replaced pair is
    /// refused, not served.
    pub fn load(source: &Source) -> io::Result<Identity> {
        let (key, origin) = match source {
            Source::Files { cert, key } => (certified(read_chain(cert)?, read_key(key)?)?, None),
            Source::SelfSigned { dir, names } => {
                let (key, origin) = self_signed::obtain(dir.as_deref(), names)?;
                (key, Some(origin))
            }
        };
        let leaf = key.end_entity_cert().map_err(|e| invalid(e.to_string()))?;
        let fingerprint = fingerprint(leaf);
        if let Some(origin) = origin {
            origin.log(&fingerprint);
        }
        Ok(Identity {
            key: Arc::new(key),
            fingerprint,
            source: source.clone(),
        })
    }
}

/// `chain` and `key` as rustls serves them; the key must match the leaf certificate.
fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<CertifiedKey> {
    CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| invalid(format!("certificate and key: {e}")))
}

/// The PEM certificates of `path`, leaf first; at least one.
fn read_chain(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    if chain.is_empty() {
        return Err(invalid(format!("{}: no certificate", path.display())));
    }
    Ok(chain)
}

/// The first PEM private key of `path` (PKCS#8, PKCS#1 or SEC1).
fn read_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// SHA-256 of a DER certificate as upper-case hex pairs joined by `:` (as browsers show it).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::with_capacity(95);
    for (i, byte) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// ring: it builds with the C compiler alone (no cmake, no nasm), unlike aws-lc-rs.
fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The certificate new handshakes get; replaced whole, so a handshake sees the old pair or the
/// new one, never a mix.
#[derive(Debug, Default)]
struct SwapResolver {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl ResolvesServerCert for SwapResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The server's TLS state: one rustls configuration whose certificate can be swapped.
pub struct Certs {
    server_config: Arc<ServerConfig>,
    resolver: Arc<SwapResolver>,
    /// The source and fingerprint of what `resolver` serves; `None` until the first install.
    installed: Mutex<Option<(Source, String)>>,
}

impl Certs {
    /// TLS 1.2 and 1.3 only, ALPN `http/1.1`, no client certificates, no certificate yet.
    pub fn new() -> Result<Certs, rustls::Error> {
        let resolver = Arc::new(SwapResolver::default());
        let mut server_config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Certs {
            server_config: Arc::new(server_config),
            resolver,
            installed: Mutex::new(None),
        })
    }

    /// The source `tls` asks for, when it is not the one served now (`None`: nothing to do,
    /// either because HTTPS is off or because the right certificate is in place).
    pub fn wanted(&self, tls: &TlsConfig) -> Option<Source> {
        if tls.listen.is_empty() {
            return None;
        }
        let source = Source::of(tls);
        let installed = self.lock_installed();
        match &*installed {
            Some((current, _)) if *current == source => None,
            _ => Some(source),
        }
    }

    /// Serves `identity` to every handshake from now on.
    pub fn install(&self, identity: Identity) {
        let Identity {
            key,
            fingerprint,
            source,
        } = identity;
        match self.resolver.current.write() {
            Ok(mut guard) => *guard = Some(key),
            Err(poisoned) => *poisoned.into_inner() = Some(key),
        }
        *self.lock_installed() = Some((source, fingerprint));
    }

    /// Reads the certificate files again (they changed on disk) and swaps them in; a broken
    /// pair is logged and the one in service kept.
    pub fn reload_files(&self) {
        let Some(source) = self.source() else { return };
        if matches!(source, Source::SelfSigned { .. }) {
            return;
        }
        match Identity::load(&source) {
            Ok(identity) if Some(&identity.fingerprint) == self.fingerprint().as_ref() => {}
            Ok(identity) => {
                log::info!("TLS certificate reloaded: SHA-256 {}", identity.fingerprint);
                self.install(identity);
            }
            Err(e) => log::error!("TLS certificate not reloaded, keeping the previous one: {e}"),
        }
    }

    /// The source of the certificate served now.
    pub fn source(&self) -> Option<Source> {
        self.lock_installed().as_ref().map(|(s, _)| s.clone())
    }

    /// SHA-256 of the leaf certificate served now.
    pub fn fingerprint(&self) -> Option<String> {
        self.lock_installed().as_ref().map(|(_, f)| f.clone())
    }

    /// The rustls configuration every TLS connection starts from.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server_config.clone()
    }

    fn lock_installed(&self) -> std::sync::MutexGuard<'_, Option<(Source, String)>> {
        self.installed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs the TLS handshake on an accepted socket, all of it before `deadline` (SPEC §6: for
/// HTTPS the handshake counts in `header_timeout_s`). Stepped by hand rather than with
/// `complete_io`, so that each socket read is bounded by what is left, and a client that
/// dribbles bytes cannot stretch the deadline.
pub fn handshake(
    sock: TcpStream,
    config: Arc<ServerConfig>,
    deadline: Instant,
) -> io::Result<TlsStream> {
    let mut conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut sock = sock;
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake"));
        }
        if conn.wants_write() {
            // A client that does not read the server's flight must not hold the thread either.
            sock.set_write_timeout(Some(left))?;
            conn.write_tls(&mut sock)?;
            continue;
        }
        sock.set_read_timeout(Some(left))?;
        if conn.read_tls(&mut sock)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "TLS handshake",
            ));
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the client why (the alert rustls queued), then give up.
            let _ = conn.write_tls(&mut sock);
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
    }
    Ok(StreamOwned::new(conn, sock))
}

/// Plaintext handed to rustls per write when sending a file: four full records (16 KiB each),
/// which rustls encrypts and sends in one `writev`.
const FILE_CHUNK: usize = 64 * 1024;

impl Output for TlsStream {
    /// No zero-copy under TLS (every byte is encrypted in user space); larger reads than
    /// `io::copy`'s 8 KiB mean full records and a quarter of the system calls.
    fn send_file(&mut self, file: &mut File, len: u64) -> Option<io::Result<u64>> {
        Some(copy_file(file, self, len))
    }
}

/// Copies exactly `len` bytes of `file` to `out` through one `FILE_CHUNK` buffer.
fn copy_file(file: &mut File, out: &mut impl Write, len: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; FILE_CHUNK];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
        }
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(len)
}

impl Transport for TlsStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(timeout)
    }

    /// `close_notify`, so a client reading to the end can tell the end from a cut.
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_format() {
        let f = fingerprint(b"");
        assert_eq!(f.len(), 32 * 3 - 1);
        assert!(f.starts_with("E3:B0:C4:42"), "{f}");
    }

    #[test]
    fn self_signed_loads_and_matches() {
        let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        let id = Identity::load(&Source::SelfSigned { dir: None, names }).unwrap();
        assert_eq!(id.fingerprint.len(), 95);
        assert!(id.key.keys_match().is_ok());
    }
}
