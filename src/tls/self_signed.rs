//! The self-signed certificate (`tls.cert = ""`), kept between runs in the folder `config`
//! chose (`tls.self_signed_dir`): reused while it still serves, replaced when it is missing,
//! unreadable, broken, within [`RENEW_WITHIN`] of its end, or not valid for every name wanted.
//!
//! Files are written whole (a temporary file, then `rename`) with mode 0600, under an exclusive
//! `flock` on the folder, so that two servers starting at once agree on one certificate and
//! neither reads half of the other's.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, RootCertStore};

use super::{certified, invalid, provider, read_chain, read_key};

/// The certificate's file in the folder.
pub const CERT_FILE: &str = "cert.pem";

/// The private key's file in the folder.
pub const KEY_FILE: &str = "key.pem";

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A new certificate's lifetime: the most Apple platforms accept for any TLS server
/// certificate, trusted by hand or not (825 days), so a browser told once to trust it keeps
/// doing so for two years.
const LIFETIME: Duration = Duration::from_secs(825 * 24 * 60 * 60);

/// A stored certificate this close to its end is replaced at start rather than left to expire
/// while serving.
pub const RENEW_WITHIN: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How the certificate in service was come by, for the one log line of a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Read back from this file.
    Reused(PathBuf),
    /// Made now and stored in this file; `why` says why the stored one was not used.
    Generated { path: PathBuf, why: String },
    /// Made now for this run only; `why` says why it is not stored.
    Ephemeral(String),
}

impl Origin {
    /// Logs the one line that says whether the certificate was generated or reused.
    pub fn log(&self, fingerprint: &str) {
        match self {
            Origin::Reused(path) => log::info!(
                "self-signed certificate reused: {} (SHA-256 {fingerprint})",
                path.display()
            ),
            Origin::Generated { path, why } => log::info!(
                "self-signed certificate generated ({why}) and kept in {} (SHA-256 {fingerprint})",
                path.display()
            ),
            Origin::Ephemeral(why) => log::warn!(
                "self-signed certificate generated for this run only ({why}): browsers will \
                 warn again at the next start (SHA-256 {fingerprint})"
            ),
        }
    }
}

/// The self-signed certificate for `names`: the one stored in `dir` when it still serves,
/// else a new one, stored there when it can be. Only a failure to generate one is an error.
pub fn obtain(dir: Option<&Path>, names: &[String]) -> io::Result<(CertifiedKey, Origin)> {
    let now = since_epoch();
    let Some(dir) = dir else {
        let why = "no folder to keep it in: each one it may use is served, or HOME is not set";
        return Ok((generate(names, now)?.0, Origin::Ephemeral(why.into())));
    };
    match obtain_in(dir, names, now) {
        Ok(found) => Ok(found),
        Err(e) => {
            let why = format!("cannot keep it in {}: {e}", dir.display());
            Ok((generate(names, now)?.0, Origin::Ephemeral(why)))
        }
    }
}

/// [`obtain`] in `dir`, which is created (mode 0700) if missing.
fn obtain_in(dir: &Path, names: &[String], now: Duration) -> io::Result<(CertifiedKey, Origin)> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let _lock = lock(dir)?;
    let path = dir.join(CERT_FILE);
    let why = match read_stored(dir, names, now) {
        Ok(key) => return Ok((key, Origin::Reused(path))),
        Err(why) => why,
    };
    let (key, pem) = generate(names, now)?;
    // Under the lock both land before another server looks; a reader that does not lock and
    // catches the old certificate with the new key is stopped by the key check.
    write_private(dir, KEY_FILE, &pem.key)?;
    write_private(dir, CERT_FILE, &pem.cert)?;
    Ok((key, Origin::Generated { path, why }))
}

/// The stored certificate and key, when they belong together and serve every one of `names`
/// now and [`RENEW_WITHIN`] from now; else why not, as the log line will say it.
fn read_stored(dir: &Path, names: &[String], now: Duration) -> Result<CertifiedKey, String> {
    let cert = dir.join(CERT_FILE);
    if fs::symlink_metadata(&cert).is_err() {
        return Err("none was stored yet".into());
    }
    let chain = read_chain(&cert).map_err(|e| format!("the stored one is unreadable: {e}"))?;
    let key =
        read_key(&dir.join(KEY_FILE)).map_err(|e| format!("the stored key is unreadable: {e}"))?;
    let leaf = chain
        .first()
        .cloned()
        .ok_or("the stored one holds no certificate")?;
    let stored = certified(chain, key).map_err(|e| format!("the stored pair is unusable: {e}"))?;
    check_serves(&leaf, names, now)?;
    Ok(stored)
}

/// Whether a client that trusts `cert` would accept it for each of `names`, now and
/// [`RENEW_WITHIN`] from now: rustls's own verifier decides, with `cert` as the one root.
fn check_serves(
    cert: &CertificateDer<'static>,
    names: &[String],
    now: Duration,
) -> Result<(), String> {
    let unusable = |e: &dyn std::fmt::Display| format!("the stored one is unusable: {e}");
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).map_err(|e| unusable(&e))?;
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider()))
            .build()
            .map_err(|e| unusable(&e))?;
    for name in names {
        let server_name = ServerName::try_from(name.as_str()).map_err(|e| unusable(&e))?;
        for (at, later) in [(now, false), (now + RENEW_WITHIN, true)] {
            let at = UnixTime::since_unix_epoch(at);
            if let Err(e) = verifier.verify_server_cert(cert, &[], &server_name, &[], at) {
                return Err(refusal(e, name, later));
            }
        }
    }
    Ok(())
}

/// Why the verifier refused the stored certificate for `name` (`later`: 30 days from now).
fn refusal(e: rustls::Error, name: &str, later: bool) -> String {
    let rustls::Error::InvalidCertificate(e) = e else {
        return format!("the stored one does not verify for {name}: {e}");
    };
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } if later => {
            "the stored one expires within 30 days".into()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the stored one has expired".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("the stored one is not valid for {name}")
        }
        other => format!("the stored one does not verify for {name}: {other}"),
    }
}

/// A certificate and its key as PEM text.
struct Pem {
    cert: String,
    key: String,
}

/// A new ECDSA P-256 certificate for `names`, valid from a day before `now` (for clients whose
/// clock lags) for [`LIFETIME`].
fn generate(names: &[String], now: Duration) -> io::Result<(CertifiedKey, Pem)> {
    let failed = |e: rcgen::Error| invalid(format!("self-signed certificate: {e}"));
    // rcgen makes each name that parses as an IP address an IP address entry.
    let mut params = CertificateParams::new(names.to_vec()).map_err(failed)?;
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(DAY);
    params.not_after = epoch + (now + LIFETIME);
    // The name a browser shows for it.
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, "shelf self-signed");
    params.distinguished_name = subject;
    let key_pair = KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key_pair).map_err(failed)?;
    let der_key = PrivatePkcs8KeyDer::from(key_pair.serialize_der());
    let key = certified(vec![cert.der().clone()], der_key.into())?;
    let pem = Pem {
        cert: cert.pem(),
        key: key_pair.serialize_pem(),
    };
    Ok((key, pem))
}

/// Time since the Unix epoch; a clock set before 1970 counts as 1970.
fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// An exclusive `flock` on `dir`, held until the file is dropped: two servers starting at once
/// take turns, and the second finds the first one's certificate. Where the file system has no
/// `flock` it goes on without, since a mixed pair is still caught by the key check.
fn lock(dir: &Path) -> io::Result<Option<File>> {
    let handle = File::open(dir)?;
    match rustix::fs::flock(&handle, rustix::fs::FlockOperation::LockExclusive) {
        Ok(()) => Ok(Some(handle)),
        Err(e) => {
            log::debug!("cannot lock {}: {e}; going on without", dir.display());
            Ok(None)
        }
    }
}

/// Writes `text` to `dir/name` whole: a temporary file created with mode 0600 (so never
/// readable by others, not even for a moment), synced, then renamed over the name.
fn write_private(dir: &Path, name: &str, text: &str) -> io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
    let written = write_new(&temp, text).and_then(|()| fs::rename(&temp, dir.join(name)));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

fn write_new(path: &Path, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A fresh folder under the temp dir, removed on drop.
    struct Folder(PathBuf);

    impl Folder {
        fn new() -> Folder {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("shelf-selfsigned-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            Folder(dir)
        }

        /// Where the certificate goes: a folder that does not exist yet.
        fn state(&self) -> PathBuf {
            self.0.join("state/self-signed")
        }

        fn mode(&self, name: &str) -> u32 {
            fs::metadata(self.state().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn names(extra: &[&str]) -> Vec<String> {
        let loopback = ["localhost", "127.0.0.1", "::1"];
        loopback
            .iter()
            .chain(extra)
            .map(|n| n.to_string())
            .collect()
    }

    fn leaf(key: &CertifiedKey) -> Vec<u8> {
        key.end_entity_cert().unwrap().to_vec()
    }

    /// Stores a certificate for `names` made at `made` (so that it ends at `made + LIFETIME`).
    fn store(dir: &Path, names: &[String], made: Duration) -> Vec<u8> {
        fs::create_dir_all(dir).unwrap();
        let (key, pem) = generate(names, made).unwrap();
        write_private(dir, KEY_FILE, &pem.key).unwrap();
        write_private(dir, CERT_FILE, &pem.cert).unwrap();
        leaf(&key)
    }

    #[test]
    fn generated_once_then_reused_with_private_modes() {
        let folder = Folder::new();
        let dir = folder.state();
        let (first, origin) = obtain(Some(&dir), &names(&[])).unwrap();
        let path = dir.join(CERT_FILE);
        let why = "none was stored yet".to_string();
        assert_eq!(
            origin,
            Origin::Generated {
                path: path.clone(),
                why
            }
        );
        let (again, origin) = obtain(Some(&dir), &names(&[])).unwrap();
        assert_eq!(origin, Origin::Reused(path));
        assert_eq!(leaf(&first), leaf(&again));
        assert_eq!(folder.mode(KEY_FILE), 0o600);
        assert_eq!(folder.mode(CERT_FILE), 0o600);
        let dir_mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "temporary files left behind: {left:?}");
    }

    /// (what it proves, how the stored files are spoiled, why it is replaced) — each is
    /// replaced by a certificate that serves, never a failure to start.
    #[test]
    fn a_stored_certificate_that_would_not_serve_is_replaced() {
        let now = since_epoch();
        type Spoil = fn(&Path);
        let rows: &[(&str, Spoil, &str)] = &[
            (
                "garbage certificate",
                |d| fs::write(d.join(CERT_FILE), "garbage").unwrap(),
                "unreadable",
            ),
            (
                "garbage key",
                |d| fs::write(d.join(KEY_FILE), "-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap(),
                "key is unreadable",
            ),
            (
                "empty certificate",
                |d| fs::write(d.join(CERT_FILE), "").unwrap(),
                "unreadable",
            ),
            (
                "key missing",
                |d| fs::remove_file(d.join(KEY_FILE)).unwrap(),
                "key is unreadable",
            ),
            (
                "key of another certificate",
                |d| {
                    let other = d.join("other");
                    store(&other, &names(&[]), since_epoch());
                    fs::rename(other.join(KEY_FILE), d.join(KEY_FILE)).unwrap();
                },
                "pair is unusable",
            ),
            (
                "expires in 10 days",
                |d| {
                    store(
                        d,
                        &names(&[]),
                        since_epoch() + RENEW_WITHIN - LIFETIME - 20 * DAY,
                    );
                },
                "expires within 30 days",
            ),
            (
                "expired",
                |d| {
                    store(d, &names(&[]), since_epoch() - LIFETIME - DAY);
                },
                "has expired",
            ),
            (
                "names too few",
                |d| {
                    store(d, &["localhost".to_string()], since_epoch());
                },
                "not valid for 127.0.0.1",
            ),
        ];
        for (name, spoil, why) in rows {
            let folder = Folder::new();
            let dir = folder.state();
            let before = store(&dir, &names(&[]), now);
            spoil(&dir);
            let (key, origin) = obtain(Some(&dir), &names(&[])).unwrap();
            let Origin::Generated { why: got, .. } = &origin else {
                panic!("{name}: {origin:?}");
            };
            assert!(got.contains(why), "{name}: {got}");
            assert_ne!(leaf(&key), before, "{name}");
            let (again, origin) = obtain(Some(&dir), &names(&[])).unwrap();
            assert!(matches!(origin, Origin::Reused(_)), "{name}: {origin:?}");
            assert_eq!(leaf(&again), leaf(&key), "{name}");
            assert_eq!(folder.mode(KEY_FILE), 0o600, "{name}");
        }
    }

    #[test]
    fn a_new_name_replaces_the_stored_certificate() {
        let folder = Folder::new();
        let dir = folder.state();
        let before = store(&dir, &names(&[]), since_epoch());
        let (key, origin) = obtain(Some(&dir), &names(&["10.0.0.7"])).unwrap();
        assert!(
            matches!(&origin, Origin::Generated { why, .. } if why.contains("not valid for 10.0.0.7")),
            "{origin:?}"
        );
        assert_ne!(leaf(&key), before);
    }

    #[test]
    fn a_folder_that_cannot_be_made_gives_a_certificate_for_this_run() {
        let folder = Folder::new();
        fs::create_dir_all(&folder.0).unwrap();
        fs::write(folder.0.join("file"), "x").unwrap();
        let (key, origin) = obtain(Some(&folder.0.join("file/sub")), &names(&[])).unwrap();
        assert!(matches!(origin, Origin::Ephemeral(_)), "{origin:?}");
        assert!(key.keys_match().is_ok());
        let (_, origin) = obtain(None, &names(&[])).unwrap();
        assert!(matches!(origin, Origin::Ephemeral(_)), "{origin:?}");
    }
}
