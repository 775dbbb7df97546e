//! The self-signed certificate persists across restarts (`tls.cert = ""`): kept beside the
//! config file in `.shelf/self-signed/` with mode 0600, reused while it serves, replaced when it
//! is near its end or broken (never a failed start), and agreed on by two servers starting at
//! once. Real TLS, port 0.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use shelf::config::Overrides;
use shelf::{Handle, Server};

use common::TempDir;
use common::tls as client;

/// A folder with `public/a.txt` and a config file `name` serving HTTPS self-signed on port 0.
fn site(dir: &TempDir, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir.path().join("public")).unwrap();
    std::fs::write(dir.path().join("public/a.txt"), "hi\n").unwrap();
    let text = common::config_text("", "[tls]\nlisten = \"127.0.0.1:0\"\n");
    let config = dir.path().join(name);
    std::fs::write(&config, text).unwrap();
    config
}

/// Where the certificate of a config file in `dir` is kept.
fn state(dir: &TempDir) -> PathBuf {
    dir.path().join(".shelf/self-signed")
}

fn start(config: &Path) -> Handle {
    Server::start_watching(config, Overrides::default())
        .unwrap_or_else(|e| panic!("server did not start: {e}"))
}

/// The fingerprint of the certificate `handle` serves, as a client sees it; checked against
/// the one the handle reports.
fn served(handle: &Handle) -> String {
    let addr = handle.tls_addr().expect("HTTPS listener");
    let probe = client::connect(addr, client::trusting_anything(), "localhost");
    let seen = shelf::tls::fingerprint(&client::peer_cert(&probe));
    assert_eq!(handle.tls_fingerprint().as_deref(), Some(seen.as_str()));
    seen
}

/// The fingerprint of the certificate in the PEM file `path`.
fn stored(path: &Path) -> String {
    let der = CertificateDer::from_pem_file(path).unwrap();
    shelf::tls::fingerprint(&der)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A self-signed certificate for the loopback names ending `ends_in` from now, written to
/// `dir` as `cert.pem` and `key.pem`; its fingerprint.
fn store_expiring(dir: &Path, ends_in: Duration) -> String {
    let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    let mut params = CertificateParams::new(names).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + (now - Duration::from_secs(86_400));
    params.not_after = epoch + (now + ends_in);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    shelf::tls::fingerprint(cert.der())
}

#[test]
fn two_starts_with_one_config_serve_one_certificate() {
    let dir = TempDir::new("selfsigned");
    let config = site(&dir, "config.toml");
    let first = start(&config);
    let fingerprint = served(&first);
    assert!(first.tls_self_signed());
    first.shutdown();

    let cert = state(&dir).join("cert.pem");
    assert_eq!(stored(&cert), fingerprint, "the file holds what was served");
    assert_eq!(mode(&cert), 0o600);
    assert_eq!(mode(&state(&dir).join("key.pem")), 0o600);
    assert_eq!(mode(&state(&dir)), 0o700);

    let second = start(&config);
    assert_eq!(served(&second), fingerprint, "a restart reuses it");
    // Trusted once (as a browser exception does), it verifies for every loopback name.
    let der = CertificateDer::from_pem_file(&cert).unwrap();
    for name in ["localhost", "127.0.0.1", "::1"] {
        let addr = second.tls_addr().unwrap();
        let mut tls = client::connect(addr, client::trusting(&der), name);
        assert_eq!(
            client::request(&mut tls, "GET", "/a.txt", "").status,
            200,
            "{name}"
        );
    }
    second.shutdown();
}

#[test]
fn a_stored_certificate_about_to_expire_is_replaced() {
    let dir = TempDir::new("selfsigned");
    let config = site(&dir, "config.toml");
    let old = store_expiring(&state(&dir), Duration::from_secs(10 * 86_400));
    let handle = start(&config);
    let fingerprint = served(&handle);
    assert_ne!(fingerprint, old, "a certificate ending in 10 days was kept");
    let cert = state(&dir).join("cert.pem");
    assert_eq!(stored(&cert), fingerprint, "the replacement is stored");
    assert_eq!(mode(&cert), 0o600);
    assert_eq!(mode(&state(&dir).join("key.pem")), 0o600);
    handle.shutdown();

    // One with most of its life ahead is kept, even when made by someone else.
    let kept = store_expiring(&state(&dir), Duration::from_secs(400 * 86_400));
    let handle = start(&config);
    assert_eq!(served(&handle), kept);
    handle.shutdown();
}

#[test]
fn a_garbage_stored_certificate_is_replaced_not_a_start_failure() {
    let dir = TempDir::new("selfsigned");
    let config = site(&dir, "config.toml");
    std::fs::create_dir_all(state(&dir)).unwrap();
    for file in ["cert.pem", "key.pem"] {
        std::fs::write(state(&dir).join(file), "garbage\n").unwrap();
    }
    let handle = start(&config);
    let fingerprint = served(&handle);
    assert_eq!(stored(&state(&dir).join("cert.pem")), fingerprint);
    assert_eq!(mode(&state(&dir).join("key.pem")), 0o600);
    handle.shutdown();
}

/// Two servers whose config files share a folder, started at the same moment, take turns on
/// the stored certificate: the second finds the first one's instead of writing its own.
#[test]
fn two_servers_starting_at_once_agree_on_one_certificate() {
    let dir = TempDir::new("selfsigned");
    let configs = [site(&dir, "a.toml"), site(&dir, "b.toml")];
    let barrier = Arc::new(Barrier::new(configs.len()));
    let starts: Vec<_> = configs
        .into_iter()
        .map(|config| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                start(&config)
            })
        })
        .collect();
    let handles: Vec<Handle> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    let fingerprints: Vec<String> = handles.iter().map(served).collect();
    assert_eq!(fingerprints[0], fingerprints[1]);
    assert_eq!(stored(&state(&dir).join("cert.pem")), fingerprints[0]);
    for handle in handles {
        handle.shutdown();
    }
}
