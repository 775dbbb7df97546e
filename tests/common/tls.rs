//! Test support for HTTPS: a CA made with `rcgen`, leaf certificates it signs, and a `rustls`
//! client that trusts that CA (or, for the self-signed mode, any certificate, recording it).

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};

use super::{PATIENCE, Resp, read_response};

/// A TLS client connection to the server.
pub type Client = StreamOwned<ClientConnection, TcpStream>;

/// A test certificate authority.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

/// A leaf certificate and its key, as PEM, with the certificate's DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl Leaf {
    /// Writes `cert.pem` and `key.pem` into `dir`, each by rename so no reader sees half a file.
    pub fn write_to(&self, dir: &Path) {
        for (name, text) in [("key.pem", &self.key_pem), ("cert.pem", &self.cert_pem)] {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, dir.join(name)).unwrap();
        }
    }

    /// SHA-256 of the certificate, as the server reports it.
    pub fn fingerprint(&self) -> String {
        shelf::tls::fingerprint(&self.der)
    }
}

impl Ca {
    pub fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            issuer: Issuer::new(params, key),
            der: cert.der().clone(),
        }
    }

    /// A leaf for `localhost` and `127.0.0.1`, signed by this CA.
    pub fn leaf(&self) -> Leaf {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let params = CertificateParams::new(names).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A client configuration that trusts this CA only.
    pub fn client(&self) -> Arc<ClientConfig> {
        trusting(&self.der)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration whose only root is `der`, offering ALPN `http/1.1`.
pub fn trusting(der: &CertificateDer<'static>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(der.clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A client configuration that accepts any certificate (the test then checks which one it got).
pub fn trusting_anything() -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    Arc::new(config)
}

/// Restricts `config` to TLS 1.2.
pub fn tls12_only(ca: &Ca) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der.clone()).unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Connects to `addr` as `name` and completes the handshake.
pub fn connect(addr: SocketAddr, config: Arc<ClientConfig>, name: &str) -> Client {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = ServerName::try_from(name.to_string()).unwrap();
    let conn = ClientConnection::new(config, name).unwrap();
    let mut client = StreamOwned::new(conn, sock);
    while client.conn.is_handshaking() {
        client.conn.complete_io(&mut client.sock).unwrap();
    }
    client
}

/// The server's leaf certificate as the client saw it.
pub fn peer_cert(client: &Client) -> CertificateDer<'static> {
    client.conn.peer_certificates().unwrap()[0].clone()
}

/// Sends `method target` with `headers` on `client` and reads one response.
pub fn request(client: &mut Client, method: &str, target: &str, headers: &str) -> Resp {
    let raw = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n");
    client.write_all(raw.as_bytes()).unwrap();
    client.flush().unwrap();
    let mut reader = BufReader::new(client);
    let resp = read_response(&mut reader, method == "HEAD");
    assert!(reader.buffer().is_empty(), "bytes after the response");
    resp
}

/// Accepts every server certificate: for the self-signed mode, whose certificate the test
/// learns from the server.
#[derive(Debug)]
struct AnyCert;

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
