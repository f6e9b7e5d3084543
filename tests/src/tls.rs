//! https for the tests' helper servers: a certificate authority made for each use, a
//! server certificate for `127.0.0.1` and `localhost` signed by it (rcgen), and TLS
//! (rustls with ring, as reqwest's) in front of a plain local server, byte for byte.
//!
//! A client trusts the server by trusting [`TlsFront::ca_pem`] alone: the certificate is in
//! no root store.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A server certificate chain and its key, and the PEM of the authority that signed it.
struct Certificates {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A new authority and a server certificate for `127.0.0.1` and `localhost` it signs.
fn certificates() -> Certificates {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "mf-tests certificate authority");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "mf-tests server");
    let cert = server.signed_by(&key, &ca).unwrap();
    Certificates {
        ca_pem: ca.pem(),
        chain: vec![cert.der().clone(), ca.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// TLS on a free port of 127.0.0.1 in front of a plain server on `127.0.0.1:{backend}`;
/// stopped on drop.
pub struct TlsFront {
    /// Its port (`https://127.0.0.1:{port}`).
    pub port: u16,
    /// The PEM certificate of the authority that signed its certificate.
    pub ca_pem: String,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Starts one in front of `127.0.0.1:{backend}`.
    pub async fn start(backend: u16) -> TlsFront {
        let certificates = certificates();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certificates.chain, certificates.key)
            .expect("the server certificate and key match");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(relay(acceptor.clone(), socket, backend));
            }
        });
        TlsFront {
            port,
            ca_pem: certificates.ca_pem,
            task,
        }
    }
}

/// One connection: the TLS handshake, then its plain bytes to and from the backend.
async fn relay(acceptor: TlsAcceptor, socket: TcpStream, backend: u16) {
    let Ok(mut tls) = acceptor.accept(socket).await else {
        return; // A client that does not trust the certificate, or speaks plain HTTP.
    };
    let Ok(mut plain) = TcpStream::connect(("127.0.0.1", backend)).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
