//! The Rust SDK for the hush API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hush_client::Error> {
//! use hush_client::ValueBytes as _;
//! let client = hush_client::Client::new("http://127.0.0.1:8270", "hush_…")?;
//! let created = client.create("STRIPE_API_KEY", b"sk_live_51ABC123", hush_client::MetadataPatch::default()).await?;
//! let fetched = client.fetch("STRIPE_API_KEY", None).await?;
//! assert_eq!(fetched.bytes()?.as_slice(), b"sk_live_51ABC123");
//! # let _ = created; Ok(()) }
//! ```
//!
//! Errors are typed ([`Error::NotFound`], [`Error::Conflict`], [`Error::Forbidden`],
//! [`Error::Expired`], [`Error::Unauthorized`], …) and carry the server's code and message,
//! never a value. The crate links no store and no database driver.
//!
//! # TLS
//!
//! For an `https://` server the client checks the certificate against the system's trust
//! store (the OS's CA certificates, as rustls-native-certs finds them; `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` replace them when set) plus, with [`Client::new`], the PEM bundle named by
//! `HUSH_CACERT` ([`CACERT_VAR`]). A server whose certificate comes from a private CA is
//! reached by trusting that CA: `HUSH_CACERT=/etc/hush/ca.pem`, or in code with
//! [`Client::builder`] and [`ClientBuilder::add_ca_file`] (or [`ClientBuilder::add_ca_pem`]).
//! A failed connection is [`Error::Transport`], whose message names the address and each
//! cause (`cannot reach the hush server at https://hush.internal:8443: tls: unknown issuer`,
//! `…: connection refused`, `…: timeout after 30 s`).
//!
//! It owns the workload's view of hush: the HTTP calls, the `.secrets` file and the private
//! directory values are written to as files (shared with `hush run`). It must never log or
//! `Debug`-print a value or a token, leave a value file readable by others, or decide a
//! permission the server decides.
//!
//! Requests are the [`hush_wire`] types the server itself deserialises, so the two cannot
//! disagree on a field; a code the server answers that this version does not know is kept
//! (`ErrorCode::Other`, `Reason::Other`) rather than failing the call.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use hush_wire::{
    AppInfo, AppManifest, AuditHead, AuditListQuery, AuditPruneRequest, AuditPruned, AuditRecord,
    AuditVerdict, AuditVerifyQuery, DeleteQuery, EnvQuery, ErrorBody, NewToken, Page, PageQuery,
    ResolveRequest, Resolved, RollbackRequest, SecretListQuery, SecretMeta, SecretQuery,
    SecretValue, SecretWriteBody, TokenInfo, TokenRequest, VersionInfo, VersionsQuery,
};
use reqwest::{Method, RequestBuilder, StatusCode};
use zeroize::Zeroizing;

pub use hush_wire;
pub use hush_wire::{ErrorCode, MetadataPatch, Reason, TokenType, ValueFormat};

mod events;
pub use events::Events;
mod fallback;
pub mod private_dir;
pub mod secrets;
mod webhooks;

#[doc(hidden)]
pub mod fuzz;

/// What a call can fail with. The message is the server's (or the transport's); none carries
/// a value or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 400, 413, 415 or 422: the request was wrong.
    #[error("{message}")]
    Invalid {
        /// HTTP status.
        status: u16,
        /// The server's code.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
    /// 401: no, bad, revoked or expired token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the token may not do this (role, scope, environment) or the secret is revoked.
    #[error("{message}")]
    Forbidden {
        /// `forbidden` or `revoked`.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: exists, stale version, in use.
    #[error("{message}")]
    Conflict {
        /// `exists`, `stale_version`, `in_use`, `conflict`, `audit_broken`.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
    /// 410: the secret expired.
    #[error("{0}")]
    Expired(String),
    /// 429: too many failed authentications from this address.
    #[error("{0}")]
    RateLimited(String),
    /// 503: the store is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// Another status.
    #[error("the server answered {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The request did not complete (connection refused, DNS, TLS, timeout).
    #[error("cannot reach the hush server at {addr}: {message}")]
    Transport {
        /// The server's address as given (`https://hush.example:8443`).
        addr: String,
        /// The cause: `connection refused`, `tls: unknown issuer`, `tls: certificate
        /// expired`, `tls: certificate not valid for this name (…)`, `timeout after 30 s`;
        /// anything else as each cause in turn, outermost first, joined with `: `.
        message: String,
    },
    /// A CA bundle given to [`ClientBuilder`] (or named by `HUSH_CACERT`) cannot be used.
    #[error("cannot use the CA certificates in {origin}: {message}")]
    CaCert {
        /// The file, or `the PEM given to add_ca_pem`.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
    /// The HTTP client could not be set up (e.g. the system's trust store holds no usable
    /// certificate).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// A value in `value_base64` did not decode.
    #[error("the server sent a value that does not decode")]
    Decode,
}

/// Filters for [`Client::list`].
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only secrets available in this environment.
    pub env: Option<String>,
    /// Only secrets this app may read.
    pub app: Option<String>,
    /// Only keys with this prefix.
    pub prefix: Option<String>,
    /// `active`, `revoked` or `expired`.
    pub status: Option<String>,
}

/// Filters for [`Client::audit`].
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only rows about this key.
    pub key: Option<String>,
    /// Only rows by this actor.
    pub actor: Option<String>,
    /// Only rows since (unix seconds).
    pub since: Option<i64>,
    /// Only rows until (unix seconds).
    pub until: Option<i64>,
}

/// Bytes of a fetched value.
pub trait ValueBytes {
    /// The value's bytes (decoding `value_base64` when the value is not UTF-8).
    fn bytes(&self) -> Result<Zeroizing<Vec<u8>>, Error>;
}

impl ValueBytes for SecretValue {
    fn bytes(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        use base64::Engine as _;
        match (&self.value, &self.value_base64) {
            (Some(v), _) => Ok(Zeroizing::new(v.as_bytes().to_vec())),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map(Zeroizing::new)
                .map_err(|_| Error::Decode),
            (None, None) => Err(Error::Decode),
        }
    }
}

/// A client for one server and one token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Zeroizing<String>,
    /// The environment whose own values the secret calls read and write (`?env=`); `None`:
    /// the shared value. Set with [`Client::in_env`].
    env: Option<String>,
    /// The connect and the whole-call timeouts, to name in a timeout's message.
    timeouts: (Duration, Duration),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// Keys and token ids go into URL paths: anything but `A-Z a-z 0-9 _ . -`, and the dot
/// segments `.` and `..` (which URL parsing resolves, encoded or not), is refused here.
fn check_segment(s: &str) -> Result<(), Error> {
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            status: 0,
            code: ErrorCode::InvalidField,
            message: format!(
                "{:?} is not a valid key or token id: use 1-128 of A-Z a-z 0-9 _ . -",
                s.chars().take(64).collect::<String>()
            ),
        })
    }
}

/// The query of a page of a list route that takes nothing else, at the largest page size.
fn page_query(cursor: Option<String>) -> PageQuery {
    PageQuery {
        cursor,
        limit: Some(1000),
    }
}

/// The environment variable naming a PEM bundle of CA certificates to trust besides the
/// system's (read by [`Client::new`] and [`ClientBuilder::add_ca_from_env`]).
pub const CACERT_VAR: &str = "HUSH_CACERT";

/// Builds a [`Client`]: the server, the token, and the certificate authorities to trust.
///
/// A client trusts the system's trust store (rustls-native-certs: the OS's certificates, or
/// the files named by `SSL_CERT_FILE` / `SSL_CERT_DIR` when set) plus every CA added here, for
/// a server whose certificate comes from a private CA:
///
/// ```no_run
/// # fn demo() -> Result<(), hush_client::Error> {
/// let client = hush_client::Client::builder("https://hush.internal:8443", "hush_…")
///     .add_ca_file("/etc/hush/ca.pem")?
///     .build()?;
/// # let _ = client; Ok(()) }
/// ```
pub struct ClientBuilder {
    addr: String,
    token: Zeroizing<String>,
    roots: Vec<reqwest::Certificate>,
    timeout: Duration,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("addr", &self.addr)
            .field("token", &"[redacted]")
            .field("extra_cas", &self.roots.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ClientBuilder {
    /// Also trusts the CA certificates of a PEM bundle (one or several
    /// `-----BEGIN CERTIFICATE-----` blocks; anything else in it is ignored). Fails when the
    /// bundle holds no certificate or one that does not parse.
    pub fn add_ca_pem(self, pem: &[u8]) -> Result<Self, Error> {
        self.add_bundle(pem, "the PEM given to add_ca_pem".into())
    }

    /// Also trusts the CA certificates of the PEM bundle in `path` (as
    /// [`ClientBuilder::add_ca_pem`]). The error names the file.
    pub fn add_ca_file(self, path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let pem = std::fs::read(path).map_err(|e| Error::CaCert {
            origin: origin.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        self.add_bundle(&pem, origin)
    }

    /// Also trusts the bundle named by `HUSH_CACERT` ([`CACERT_VAR`]) when it is set and not
    /// empty.
    pub fn add_ca_from_env(self) -> Result<Self, Error> {
        match std::env::var_os(CACERT_VAR).filter(|v| !v.is_empty()) {
            Some(path) => self.add_ca_file(std::path::PathBuf::from(path)),
            None => Ok(self),
        }
    }

    fn add_bundle(mut self, pem: &[u8], origin: String) -> Result<Self, Error> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::CertificateDer;
        let bad = |message: String| Error::CaCert {
            origin: origin.clone(),
            message,
        };
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("not a PEM bundle: {e}")))?;
        if certs.is_empty() {
            return Err(bad(
                "no PEM certificate in it (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        // Each must be usable as a trust anchor, checked here so the error names the file.
        let n = certs.len();
        for (i, der) in certs.into_iter().enumerate() {
            rustls::RootCertStore::empty()
                .add(der.clone())
                .map_err(|e| bad(format!("certificate {} of {n}: {e}", i + 1)))?;
            self.roots.push(
                reqwest::Certificate::from_der(&der)
                    .map_err(|e| bad(format!("certificate {} of {n}: {e}", i + 1)))?,
            );
        }
        Ok(self)
    }

    /// How long a call may take in all before it fails with [`Error::Transport`] (`timeout
    /// after 30 s`); default [`DEFAULT_TIMEOUT`]. Connecting is bounded by
    /// [`CONNECT_TIMEOUT`], or by this when shorter.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The client.
    pub fn build(self) -> Result<Client, Error> {
        let base = self.addr.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Invalid {
                status: 0,
                code: ErrorCode::parse("bad_address"),
                message: format!(
                    "{base:?} is not a server address: give http://HOST:PORT or https://HOST"
                ),
            });
        }
        let connect = CONNECT_TIMEOUT.min(self.timeout);
        let mut http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(connect)
            .user_agent(concat!("hush-client/", env!("CARGO_PKG_VERSION")))
            // A plain-HTTP server needs no trust roots: loading the system's (reading and
            // parsing every file of /etc/ssl/certs) was most of a short `hush run`'s time.
            .tls_built_in_root_certs(base.starts_with("https://"));
        for root in self.roots {
            http = http.add_root_certificate(root);
        }
        let http = http.build().map_err(|e| Error::Setup(cause_chain(&e)))?;
        Ok(Client {
            http,
            base,
            token: self.token,
            env: None,
            timeouts: (connect, self.timeout),
        })
    }
}

/// The default whole-call timeout of a [`Client`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take (TCP and TLS), at most.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `5 s`, `0.5 s`: a timeout as a message names it.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

/// An error and its sources, outermost first, joined with `: `. Wrappers that only say which
/// step failed ("error sending request") are left out when a cause follows, and so is a cause
/// its wrapper already quotes.
///
/// A cause people meet often is named shortly instead of the whole chain: `connection
/// refused`, and a certificate the client refused as `tls: unknown issuer`, `tls: certificate
/// expired`, `tls: certificate not valid for this name` and the like ([`short_cause`]).
fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(short) = short_cause(err) {
            return short;
        }
        next = err.source();
    }
    full_chain(e)
}

/// The short name of a well-known transport failure: a refused connection, or a TLS
/// certificate rustls refused. `None` for anything else.
fn short_cause(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return Some("connection refused".to_string());
        }
        // An io::Error's source() skips the error it wraps (often another io::Error around
        // rustls' error): look inside it, and down its own chain.
        let mut next = io
            .get_ref()
            .map(|i| i as &(dyn std::error::Error + 'static));
        while let Some(inner) = next {
            if let Some(short) = short_cause(inner) {
                return Some(short);
            }
            next = inner.source();
        }
        return None;
    }
    let tls = err.downcast_ref::<rustls::Error>()?;
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = tls else {
        return None;
    };
    Some(match c {
        C::UnknownIssuer => "tls: unknown issuer".to_string(),
        C::Expired | C::ExpiredContext { .. } => "tls: certificate expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "tls: certificate not valid yet".to_string()
        }
        C::NotValidForName => "tls: certificate not valid for this name".to_string(),
        C::NotValidForNameContext { expected, .. } => {
            format!(
                "tls: certificate not valid for this name (it does not name {})",
                expected.to_str()
            )
        }
        C::Revoked => "tls: certificate revoked".to_string(),
        C::BadSignature => "tls: bad certificate signature".to_string(),
        _ => format!("tls: invalid certificate ({c:?})"),
    })
}

/// An error and its sources, outermost first, joined with `: `, less the step-only wrappers.
fn full_chain(e: &(dyn std::error::Error + 'static)) -> String {
    const STEP_ONLY: [&str; 3] = [
        "error sending request",
        "client error (Connect)",
        "client error (SendRequest)",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        next = err.source();
        let s = err.to_string();
        if next.is_some() && STEP_ONLY.contains(&s.as_str()) {
            continue;
        }
        if parts.last().is_some_and(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    parts.join(": ")
}

impl Client {
    /// A client for the server at `addr` (`http://127.0.0.1:8270`, `https://hush.example`),
    /// trusting the system's trust store and, when `HUSH_CACERT` ([`CACERT_VAR`]) names a PEM
    /// bundle, its certificates too (a bad bundle is [`Error::CaCert`]). Use
    /// [`Client::builder`] to choose the CA certificates yourself.
    pub fn new(addr: &str, token: &str) -> Result<Self, Error> {
        Client::builder(addr, token).add_ca_from_env()?.build()
    }

    /// A [`ClientBuilder`] for the server at `addr`: it trusts the system's trust store and
    /// the CA certificates added to it (it does not read `HUSH_CACERT` unless asked with
    /// [`ClientBuilder::add_ca_from_env`]).
    pub fn builder(addr: &str, token: &str) -> ClientBuilder {
        ClientBuilder {
            addr: addr.to_string(),
            token: Zeroizing::new(token.to_string()),
            roots: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The server's address, as given (without a trailing `/`).
    pub fn addr(&self) -> &str {
        &self.base
    }

    fn transport(&self, e: reqwest::Error) -> Error {
        let message = if e.is_timeout() {
            let (connect, total) = self.timeouts;
            if e.is_connect() {
                format!("connect timeout after {}", seconds(connect))
            } else {
                format!("timeout after {}", seconds(total))
            }
        } else {
            cause_chain(&e.without_url())
        };
        Error::Transport {
            addr: self.base.clone(),
            message,
        }
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        // EXPOSE: the bearer token goes in the Authorization header and nowhere else.
        self.http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(self.token.as_str())
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T, Error> {
        let res = rb.send().await.map_err(|e| self.transport(e))?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| self.transport(e))?;
        if status.is_success() {
            let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(body).map_err(|e| Error::Server {
                status: status.as_u16(),
                message: format!("unexpected answer: {e}"),
            });
        }
        Err(status_error(status, &bytes))
    }

    /// The same client, with its secret calls (`create`, `put`, `update`, `fetch`, `delete`,
    /// `versions`, `rollback`) on environment `env`'s own value: a fetch gets that value when
    /// the secret has one, else the shared value; a write or delete touches only `env`'s value.
    pub fn in_env(&self, env: &str) -> Client {
        Client {
            env: Some(env.to_string()),
            ..self.clone()
        }
    }

    /// The `?env=` of this client's secret calls.
    fn env_query(&self) -> EnvQuery {
        EnvQuery {
            env: self.env.clone(),
        }
    }

    /// Creates a secret (`Conflict` if the key exists).
    pub async fn create(
        &self,
        key: &str,
        value: &[u8],
        meta: MetadataPatch,
    ) -> Result<SecretMeta, Error> {
        let body = SecretWriteBody::new(Some(key), Some(value), meta);
        self.send(
            self.req(Method::POST, "/v1/secrets")
                .query(&self.env_query())
                .json(&body),
        )
        .await
    }

    /// Creates or replaces a secret's value.
    pub async fn put(
        &self,
        key: &str,
        value: &[u8],
        meta: MetadataPatch,
    ) -> Result<SecretMeta, Error> {
        check_segment(key)?;
        let body = SecretWriteBody::new(None, Some(value), meta);
        self.send(
            self.req(Method::PUT, &format!("/v1/secrets/{key}"))
                .query(&self.env_query())
                .json(&body),
        )
        .await
    }

    /// Changes a value and/or metadata; with `if_version`, only if that is still current.
    pub async fn update(
        &self,
        key: &str,
        value: Option<&[u8]>,
        meta: MetadataPatch,
        if_version: Option<u64>,
    ) -> Result<SecretMeta, Error> {
        check_segment(key)?;
        let mut body = SecretWriteBody::new(None, value, meta);
        body.expected_version = if_version;
        self.send(
            self.req(Method::PATCH, &format!("/v1/secrets/{key}"))
                .query(&self.env_query())
                .json(&body),
        )
        .await
    }

    /// Metadata and the decrypted value (of `version`, or the current one).
    pub async fn fetch(&self, key: &str, version: Option<u64>) -> Result<SecretValue, Error> {
        check_segment(key)?;
        self.send(
            self.req(Method::GET, &format!("/v1/secrets/{key}"))
                .query(&SecretQuery {
                    version,
                    env: self.env.clone(),
                }),
        )
        .await
    }

    /// Every item of a list route, following `next_cursor` to the last page; `query` builds
    /// each page's query string from the cursor.
    async fn all_pages<T, Q>(
        &self,
        path: &str,
        query: impl Fn(Option<String>) -> Q,
    ) -> Result<Vec<T>, Error>
    where
        T: serde::de::DeserializeOwned,
        Q: serde::Serialize,
    {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page: Page<T> = self
                .send(self.req(Method::GET, path).query(&query(cursor.take())))
                .await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Every secret matching `q` (metadata only), following pages.
    pub async fn list(&self, q: &ListQuery) -> Result<Vec<SecretMeta>, Error> {
        self.all_pages("/v1/secrets", |cursor| SecretListQuery {
            env: q.env.clone(),
            app: q.app.clone(),
            prefix: q.prefix.clone(),
            status: q.status.clone(),
            cursor,
            limit: Some(1000),
        })
        .await
    }

    /// Metadata of one secret, without reading (or auditing a read of) its value: a listing
    /// filtered by the key as prefix.
    pub async fn show(&self, key: &str) -> Result<SecretMeta, Error> {
        let all = self
            .list(&ListQuery {
                prefix: Some(key.to_string()),
                ..ListQuery::default()
            })
            .await?;
        all.into_iter()
            .find(|m| m.key == key)
            .ok_or_else(|| Error::NotFound(format!("secret {key:?} not found")))
    }

    /// Deletes a secret (`force` deletes it even while apps use it).
    pub async fn delete(&self, key: &str, force: bool) -> Result<(), Error> {
        check_segment(key)?;
        let q = DeleteQuery {
            force: force.then_some(true),
            expected_version: None,
            env: self.env.clone(),
        };
        self.send::<serde_json::Value>(
            self.req(Method::DELETE, &format!("/v1/secrets/{key}"))
                .query(&q),
        )
        .await
        .map(|_| ())
    }

    /// Disables a secret without deleting it.
    pub async fn revoke(&self, key: &str) -> Result<SecretMeta, Error> {
        check_segment(key)?;
        self.send(self.req(Method::POST, &format!("/v1/secrets/{key}/revoke")))
            .await
    }

    /// Undoes [`Client::revoke`].
    pub async fn restore(&self, key: &str) -> Result<SecretMeta, Error> {
        check_segment(key)?;
        self.send(self.req(Method::POST, &format!("/v1/secrets/{key}/restore")))
            .await
    }

    /// The versions of a secret (no values), following pages.
    pub async fn versions(&self, key: &str) -> Result<Vec<VersionInfo>, Error> {
        check_segment(key)?;
        self.all_pages(&format!("/v1/secrets/{key}/versions"), |cursor| {
            VersionsQuery {
                env: self.env.clone(),
                cursor,
                limit: Some(1000),
            }
        })
        .await
    }

    /// Makes version `to`'s value current again, as a new version.
    pub async fn rollback(&self, key: &str, to: u64) -> Result<SecretMeta, Error> {
        check_segment(key)?;
        self.send(
            self.req(Method::POST, &format!("/v1/secrets/{key}/rollback"))
                .query(&self.env_query())
                .json(&RollbackRequest { to }),
        )
        .await
    }

    /// The token this client uses (its record, never the token) and its workspace.
    pub async fn whoami(&self) -> Result<hush_wire::WhoAmI, Error> {
        self.send(self.req(Method::GET, "/v1/whoami")).await
    }

    /// For a workload: the values of `keys` (or why each cannot be had), in one call.
    pub async fn resolve(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
    ) -> Result<Resolved, Error> {
        self.resolve_request(app, env, keys, &BTreeMap::new(), false)
            .await
    }

    /// Like [`Client::resolve`] (or with `dry_run` [`Client::check`]), trying for a key that
    /// is missing, revoked or expired its `fallbacks` in order: the answer's `fallbacks` says,
    /// by key asked, which key served it and which were skipped and why.
    pub async fn resolve_with_fallbacks(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        fallbacks: &BTreeMap<String, Vec<String>>,
        dry_run: bool,
    ) -> Result<Resolved, Error> {
        self.resolve_request(app, env, keys, fallbacks, dry_run)
            .await
    }

    /// Like [`Client::resolve`] but reads nothing: each key's metadata (the answer's values are
    /// empty) or why it cannot be had. What `hush check` asks.
    pub async fn check(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
    ) -> Result<Resolved, Error> {
        self.resolve_request(app, env, keys, &BTreeMap::new(), true)
            .await
    }

    async fn resolve_request(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        fallbacks: &BTreeMap<String, Vec<String>>,
        dry_run: bool,
    ) -> Result<Resolved, Error> {
        let body = ResolveRequest {
            app: app.map(str::to_string),
            env: env.map(str::to_string),
            keys: keys.to_vec(),
            fallbacks: fallbacks.clone(),
            dry_run,
        };
        self.send(self.req(Method::POST, "/v1/resolve").json(&body))
            .await
    }

    /// Registers an app's manifest, or replaces it (write or admin).
    pub async fn register_app(&self, manifest: &AppManifest) -> Result<AppInfo, Error> {
        self.send(self.req(Method::POST, "/v1/apps").json(manifest))
            .await
    }

    /// The registered apps, following pages.
    pub async fn apps(&self) -> Result<Vec<AppInfo>, Error> {
        self.all_pages("/v1/apps", page_query).await
    }

    /// One registered app.
    pub async fn app(&self, name: &str) -> Result<AppInfo, Error> {
        check_segment(name)?;
        self.send(self.req(Method::GET, &format!("/v1/apps/{name}")))
            .await
    }

    /// Unregisters an app.
    pub async fn delete_app(&self, name: &str) -> Result<(), Error> {
        check_segment(name)?;
        self.send::<serde_json::Value>(self.req(Method::DELETE, &format!("/v1/apps/{name}")))
            .await
            .map(|_| ())
    }

    /// Makes a token (admin). The answer is the only place the token appears.
    pub async fn create_token(&self, req: &TokenRequest) -> Result<NewToken, Error> {
        self.send(self.req(Method::POST, "/v1/tokens").json(req))
            .await
    }

    /// Lists tokens (admin), following pages.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, Error> {
        self.all_pages("/v1/tokens", page_query).await
    }

    /// Revokes a token by id or name (admin).
    pub async fn revoke_token(&self, id: &str) -> Result<TokenInfo, Error> {
        check_segment(id)?;
        self.send(self.req(Method::POST, &format!("/v1/tokens/{id}/revoke")))
            .await
    }

    /// Audit rows (admin), following pages.
    pub async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, Error> {
        self.all_pages("/v1/audit", |cursor| AuditListQuery {
            key: q.key.clone(),
            actor: q.actor.clone(),
            since: q.since,
            until: q.until,
            cursor,
            limit: Some(1000),
        })
        .await
    }

    /// Checks the audit chain (admin): every row's MAC and link.
    pub async fn verify_audit(&self) -> Result<AuditVerdict, Error> {
        self.send(self.req(Method::GET, "/v1/audit/verify")).await
    }

    /// Checks the audit chain and that `head` (recorded earlier from [`Client::audit_head`])
    /// is still in it unchanged, so rows cut off the end are found (admin).
    pub async fn verify_audit_with_head(&self, head: &AuditHead) -> Result<AuditVerdict, Error> {
        let v: AuditVerdict = self
            .send(
                self.req(Method::GET, "/v1/audit/verify")
                    .query(&AuditVerifyQuery {
                        head_seq: Some(head.seq),
                        head_mac: Some(head.mac.clone()),
                    }),
            )
            .await?;
        if v.intact && !v.head_checked {
            // A server from before heads ignores the parameters: never report a check that
            // did not happen.
            return Err(Error::Server {
                status: 200,
                message: "the server did not check the head (it predates audit heads): upgrade it"
                    .into(),
            });
        }
        Ok(v)
    }

    /// The newest audit row's sequence number and MAC, to keep somewhere the store's writers
    /// cannot reach (admin).
    pub async fn audit_head(&self) -> Result<AuditHead, Error> {
        self.send(self.req(Method::GET, "/v1/audit/head")).await
    }

    /// Audit retention (an admin of workspace `default`): removes the rows written before
    /// `before` (RFC 3339, unix seconds, or a duration before now such as `90d`) and keeps a
    /// checkpoint from which [`Client::verify_audit`] proves the rest.
    pub async fn prune_audit(&self, before: &str) -> Result<AuditPruned, Error> {
        self.send(
            self.req(Method::POST, "/v1/audit/prune")
                .json(&AuditPruneRequest {
                    before: before.to_string(),
                }),
        )
        .await
    }
}

/// The error a non-2xx answer means, from its status and `{"error": …}` body.
fn status_error(status: StatusCode, bytes: &[u8]) -> Error {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => (ErrorCode::parse("unknown"), format!("HTTP {status}")),
    };
    match status {
        StatusCode::BAD_REQUEST
        | StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::UNPROCESSABLE_ENTITY => Error::Invalid {
            status: status.as_u16(),
            code,
            message,
        },
        StatusCode::UNAUTHORIZED => Error::Unauthorized(message),
        StatusCode::FORBIDDEN => Error::Forbidden { code, message },
        StatusCode::NOT_FOUND => Error::NotFound(message),
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => Error::Conflict { code, message },
        StatusCode::GONE => Error::Expired(message),
        StatusCode::TOO_MANY_REQUESTS => Error::RateLimited(message),
        StatusCode::SERVICE_UNAVAILABLE => Error::Unavailable(message),
        _ => Error::Server {
            status: status.as_u16(),
            message,
        },
    }
}
