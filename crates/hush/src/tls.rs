//! `hush server`'s certificate: read from `--tls-cert` / `--tls-key` at start (bad files refuse
//! the start), and again on SIGHUP. Handshakes ask [`ReloadableCert`] for the certificate, so
//! a reload changes what new connections are shown; connections already open keep the session
//! they made. A reload whose files are bad (unreadable, not PEM, a key that is not the
//! certificate's) changes nothing and is logged with the file and the cause.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::{Context as _, Result};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

use crate::fail::Failure;

/// The certificate and key handshakes use, replaced by [`ReloadableCert::reload`].
#[derive(Debug)]
pub struct ReloadableCert {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Re-reads both files. On success new handshakes use them; on failure the previous pair
    /// stays and the cause is returned (it names the file).
    pub fn reload(&self) -> Result<(), String> {
        let fresh = load_pair(&self.cert, &self.key, &self.provider)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    /// The certificate file, for log lines.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// The key file, for log lines.
    pub fn key_path(&self) -> &Path {
        &self.key
    }
}

impl rustls::server::ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The server's TLS configuration over a reloadable certificate. Bad files are a usage error
/// (exit 2) naming the file.
pub fn server_config(
    cert: &Path,
    key: &Path,
) -> Result<(Arc<rustls::ServerConfig>, Arc<ReloadableCert>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let pair = load_pair(cert, key, &provider).map_err(Failure::usage)?;
    let resolver = Arc::new(ReloadableCert {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        provider: provider.clone(),
        current: RwLock::new(Arc::new(pair)),
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), resolver))
}

/// Reads and checks a certificate chain and its private key; the error names the file at
/// fault and why.
fn load_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let cert_pem = read(cert)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM certificate chain: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    // The key file's bytes are cleared once the key is parsed.
    let key_pem = zeroize::Zeroizing::new(read(key)?);
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            format!("{} holds no PEM private key", key.display())
        }
        e => format!("cannot read the private key in {}: {e}", key.display()),
    })?;
    CertifiedKey::from_der(certs, key_der, provider).map_err(|e| {
        format!(
            "{} and {} do not form a usable pair (is the key the certificate's?): {e}",
            cert.display(),
            key.display()
        )
    })
}

/// Listens for SIGHUP from now on (its default action, ending the process, no longer
/// applies) and reloads the certificate on each, when the server has one.
pub fn reload_on_sighup(cert: Option<Arc<ReloadableCert>>) -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match &cert {
                    None => tracing::warn!(
                        "SIGHUP: nothing to reload (no --tls-cert; other settings need a restart)"
                    ),
                    Some(c) => match c.reload() {
                        Ok(()) => tracing::info!(
                            cert = %c.cert_path().display(),
                            key = %c.key_path().display(),
                            "SIGHUP: TLS certificate reloaded; new connections use it"
                        ),
                        Err(why) => tracing::error!(
                            cert = %c.cert_path().display(),
                            key = %c.key_path().display(),
                            "SIGHUP: TLS certificate not reloaded, still serving the previous one: {why}"
                        ),
                    },
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = cert;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, c.cert.pem()).unwrap();
        std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn a_bad_reload_keeps_the_previous_pair_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "a");
        let (cert_b, key_b) = pair(dir.path(), "b");
        let (_cfg, r) = server_config(&cert, &key).unwrap();
        let first = r.current.read().unwrap().cert[0].clone();
        // A key that is not the certificate's.
        std::fs::copy(&key_b, &key).unwrap();
        let why = r.reload().unwrap_err();
        assert!(why.contains("a.crt") && why.contains("a.key"), "{why}");
        assert!(why.contains("KeyMismatch"), "{why}");
        // Not PEM; missing.
        std::fs::write(&cert, "garbage").unwrap();
        let why = r.reload().unwrap_err();
        assert!(
            why.contains("a.crt") && why.contains("no PEM certificate"),
            "{why}"
        );
        std::fs::remove_file(&cert).unwrap();
        let why = r.reload().unwrap_err();
        assert!(
            why.contains("cannot read") && why.contains("a.crt"),
            "{why}"
        );
        assert_eq!(r.current.read().unwrap().cert[0], first, "still the first");
        // A good pair is taken.
        std::fs::copy(&cert_b, &cert).unwrap();
        std::fs::copy(&key_b, &key).unwrap();
        r.reload().unwrap();
        assert_ne!(r.current.read().unwrap().cert[0], first);
    }
}
