//! The SDK over TLS: a server whose certificate a private CA signed is trusted only once that
//! CA is added (a file, PEM bytes, a bundle of several, or `HUSH_CACERT` for the secrets
//! module); a bad bundle and a failed connection say which file or address and why.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use hush_client::{Client, Error};
use hush_core::token::Role;
use hush_core::{Actor, Hush, KeyFileSource};
use hush_store_sqlite::SqliteStore;

/// A CA's PEM, and a server certificate and key (PEM) it signed for 127.0.0.1.
fn private_ca() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(params, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

/// The hush router over TLS on 127.0.0.1, with an admin token; its CA's PEM.
struct TlsApi {
    dir: tempfile::TempDir,
    base: String,
    token: String,
    ca: String,
}

async fn start() -> TlsApi {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hush.db")).unwrap();
    let source = KeyFileSource::new_file(&dir.path().join("root.key"));
    let hush = Hush::initialize(Arc::new(store), Box::new(source))
        .await
        .unwrap();
    let (ws, _) = hush.workspace("default", true).await.unwrap();
    let (_, secret) = hush
        .create_token(&ws, "admin", Role::Admin, None, None, None, &Actor::local())
        .await
        .unwrap();
    let token = secret.expose_secret().to_string();
    let (ca, cert, key) = private_ca();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
        PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let app = hush_server::router(hush_server::AppState::new(Arc::new(hush)));
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // A client that does not trust the CA ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(
                    hyper_util::rt::TokioIo::new(tls),
                    hyper_util::service::TowerToHyperService::new(app),
                )
                .await;
            });
        }
    });
    TlsApi {
        dir,
        base,
        token,
        ca,
    }
}

#[tokio::test]
async fn a_private_ca_is_trusted_once_added() {
    let api = start().await;
    // The system's trust store alone does not know the private CA.
    let plain = Client::builder(&api.base, &api.token).build().unwrap();
    let e = plain.whoami().await.unwrap_err();
    match &e {
        Error::Transport { addr, message } => {
            assert_eq!(addr, &api.base);
            assert_eq!(message, "tls: unknown issuer");
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(
        e.to_string(),
        format!(
            "cannot reach the hush server at {}: tls: unknown issuer",
            api.base
        )
    );

    // As a file, as PEM bytes, in a bundle with another CA first.
    let ca_file = api.dir.path().join("ca.pem");
    std::fs::write(&ca_file, &api.ca).unwrap();
    let by_file = Client::builder(&api.base, &api.token)
        .add_ca_file(&ca_file)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(by_file.whoami().await.unwrap().token.name, "admin");
    // Trusted, but reached under a name the certificate does not give (it names 127.0.0.1).
    let by_name = api.base.replace("127.0.0.1", "localhost");
    let e = Client::builder(&by_name, &api.token)
        .add_ca_file(&ca_file)
        .unwrap()
        .build()
        .unwrap()
        .whoami()
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot reach the hush server at {by_name}: tls: certificate not valid for this name (it does not name localhost)"
        )
    );
    let (other_ca, _, _) = private_ca();
    let bundle = format!("{other_ca}{}", api.ca);
    let by_pem = Client::builder(&api.base, &api.token)
        .add_ca_pem(bundle.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    by_pem.whoami().await.unwrap();
    // Only another CA: still refused.
    let wrong = Client::builder(&api.base, &api.token)
        .add_ca_pem(other_ca.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    assert!(matches!(
        wrong.whoami().await.unwrap_err(),
        Error::Transport { .. }
    ));

    // The secrets module takes HUSH_CACERT from its environment (relative to its directory).
    let env = |ca: &str| {
        HashMap::from([
            ("HUSH_ADDR".to_string(), api.base.clone()),
            ("HUSH_TOKEN".to_string(), api.token.clone()),
            ("HUSH_CACERT".to_string(), ca.to_string()),
            // The fallback snapshot goes here, not into the home of whoever runs the tests.
            (
                "HUSH_HOME".to_string(),
                api.dir.path().display().to_string(),
            ),
        ])
    };
    by_file
        .put("db-password", b"pw-over-tls", Default::default())
        .await
        .unwrap();
    let s = hush_client::secrets::Sources::new(env("ca.pem"), api.dir.path().to_path_buf());
    let v = s.get("db-password").await.unwrap();
    assert_eq!(v.expose_str().unwrap(), "pw-over-tls");
    let s = hush_client::secrets::Sources::new(env("nope.pem"), api.dir.path().to_path_buf());
    let msg = s.get("db-password").await.unwrap_err().to_string();
    assert!(
        msg.contains("nope.pem") && msg.contains("cannot read"),
        "{msg}"
    );
}

#[test]
fn a_bad_bundle_names_its_file_and_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let b = || Client::builder("https://127.0.0.1:1", "t");
    let missing = dir.path().join("missing.pem");
    let e = b().add_ca_file(&missing).unwrap_err();
    assert!(matches!(e, Error::CaCert { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!(
            "cannot use the CA certificates in {}: cannot read it",
            missing.display()
        )),
        "{e}"
    );
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not pem at all").unwrap();
    let e = b().add_ca_file(&junk).unwrap_err().to_string();
    assert!(
        e.contains(&junk.display().to_string()) && e.contains("no PEM certificate"),
        "{e}"
    );
    let e = b()
        .add_ca_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the PEM given to add_ca_pem") && e.contains("certificate 1 of 1"),
        "{e}"
    );
}

#[tokio::test]
async fn a_refused_connection_names_the_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("http://127.0.0.1:{port}");
    let c = Client::builder(&addr, "t").build().unwrap();
    let e = c.whoami().await.unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot reach the hush server at {addr}: ")),
        "{e}"
    );
    assert_eq!(
        e,
        format!("cannot reach the hush server at {addr}: connection refused")
    );
}
