//! The request bodies of the API, decoded and checked without a store: what the fuzz target
//! `api_body` (`fuzz/fuzz_targets/api_body.rs` at the repository root) drives. Not part of the
//! API.
//!
//! [`request_body`] runs, for one route, the same steps as its handler before the handler
//! first calls the service: the JSON extractor (content type, syntax, the body type with its
//! unknown-field refusal), the handler's own checks, and the checks hush-core makes on the
//! arguments before it touches the store (key, value size, metadata, manifest, token name and
//! role). It decodes the same hush-wire request types as the handlers and reuses their
//! helpers, so a change to either is fuzzed at once; the few steps that live inline in a
//! handler or in a service method are repeated here and must follow them.
//!
//! [`request_body_check`] adds what must hold whatever the input: no panic, a refusal is a
//! 4xx, and what is accepted respects the rules, checked by this module's own reading of them
//! rather than by the validators that accepted it.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use axum::extract::FromRequest as _;
use axum::http::{header::CONTENT_TYPE, Request};
use hush_core::patch::PatchRules as _;
use hush_core::token::Role;
use hush_core::{clock, MetadataPatch};
use hush_wire::{AppManifest, ResolveRequest, RollbackRequest, SecretWriteBody, TokenRequest};

use crate::{patch_of, role_and_name, value_of, ApiError, Body};

/// The key in the path of `PUT`/`PATCH /v1/secrets/{key}` and `POST …/rollback`.
pub const PATH_KEY: &str = "fuzz-key";
/// The app in the path of `PUT /v1/apps/{name}`.
pub const PATH_APP: &str = "fuzz-app";

/// A route that takes a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/secrets`.
    CreateSecret,
    /// `PUT /v1/secrets/{key}`, with [`PATH_KEY`].
    PutSecret,
    /// `PATCH /v1/secrets/{key}`, with [`PATH_KEY`].
    PatchSecret,
    /// `POST /v1/secrets/{key}/rollback`, with [`PATH_KEY`].
    Rollback,
    /// `POST /v1/resolve`.
    Resolve,
    /// `POST /v1/apps`.
    RegisterApp,
    /// `PUT /v1/apps/{name}`, with [`PATH_APP`].
    PutApp,
    /// `POST /v1/tokens`.
    CreateToken,
}

/// Every [`Route`].
pub const ROUTES: [Route; 8] = [
    Route::CreateSecret,
    Route::PutSecret,
    Route::PatchSecret,
    Route::Rollback,
    Route::Resolve,
    Route::RegisterApp,
    Route::PutApp,
    Route::CreateToken,
];

/// `Content-Type` headers the fuzz input chooses from (`None`: no header).
pub const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    None,
    Some("text/plain"),
    Some("application/vnd.other+json"),
    Some("application/json; charset=utf-16"),
];

/// What a route accepted, as the service would be called with it. A value is kept as its
/// length only.
#[derive(Debug)]
pub enum Accepted {
    /// A secret write: create, put or patch.
    Write {
        /// The key written.
        key: String,
        /// The value's length, when a value is written.
        value_len: Option<usize>,
        /// The metadata change.
        patch: MetadataPatch,
    },
    /// A rollback to a version.
    Rollback {
        /// The version.
        to: u64,
    },
    /// A resolve call.
    Resolve {
        /// The app whose scope applies.
        app: Option<String>,
        /// The environment.
        env: Option<String>,
        /// The keys asked for.
        keys: Vec<String>,
        /// Their fallbacks.
        fallbacks: std::collections::BTreeMap<String, Vec<String>>,
    },
    /// An app manifest to register.
    App(AppManifest),
    /// A token to make.
    Token {
        /// Its name.
        name: String,
        /// Its role.
        role: Role,
        /// A machine token's app.
        app: Option<String>,
        /// A machine token's environment.
        env: Option<String>,
        /// When it expires.
        expires_at: Option<i64>,
    },
}

/// Polls a future that needs no I/O (extracting an in-memory body) to its end.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("extracting an in-memory request body waited on something");
}

fn extract<T: serde::de::DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, ApiError> {
    let mut req = Request::builder().method("POST").uri("/");
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    let req = req
        .body(axum::body::Body::from(body.to_vec()))
        .map_err(|_| ApiError::bad_request("the fuzz request could not be built"))?;
    let Body(v) = ready(Body::<T>::from_request(req, &()))?;
    Ok(v)
}

fn core(e: impl Into<hush_core::Error>) -> ApiError {
    ApiError::from(e.into())
}

/// Decodes and checks `body` as `route`'s handler would before calling the service, and as
/// hush-core would before touching the store.
pub fn request_body(
    route: Route,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Accepted, ApiError> {
    use hush_core::model::{validate_app, validate_env, validate_key, validate_value_len};
    match route {
        Route::CreateSecret | Route::PutSecret | Route::PatchSecret => {
            let mut b: SecretWriteBody = extract(content_type, body)?;
            let key = match route {
                Route::CreateSecret => b
                    .key
                    .take()
                    .ok_or_else(|| ApiError::invalid("`key` is required"))?,
                Route::PutSecret => {
                    if b.key.as_ref().is_some_and(|k| k != PATH_KEY) {
                        return Err(ApiError::invalid(
                            "`key` in the body differs from the key in the path",
                        ));
                    }
                    PATH_KEY.to_string()
                }
                _ => {
                    if b.key.is_some() {
                        return Err(ApiError::invalid(
                            "`key` cannot be changed; create a new secret instead",
                        ));
                    }
                    PATH_KEY.to_string()
                }
            };
            let value = value_of(&mut b)?;
            if route != Route::PatchSecret && value.is_none() {
                return Err(ApiError::invalid("`value` (or `value_base64`) is required"));
            }
            let patch = patch_of(&b)?;
            if route == Route::PatchSecret && value.is_none() && patch.is_empty() {
                return Err(ApiError::invalid(
                    "nothing to change: give `value` and/or metadata fields",
                ));
            }
            // hush-core's create/put/update.
            validate_key(&key).map_err(core)?;
            if let Some(v) = &value {
                validate_value_len(v.len()).map_err(core)?;
            }
            patch.validate().map_err(core)?;
            match (patch.format, &value) {
                (Some(f), Some(v)) => {
                    // EXPOSE: parsed to check its format, as hush-core's write does.
                    hush_core::model::validate_format(f, v.expose_secret()).map_err(core)?
                }
                (Some(_), None) => return Err(core(hush_core::Invalid::FormatWithoutValue)),
                (None, _) => {}
            }
            Ok(Accepted::Write {
                key,
                value_len: value.map(|v| v.len()),
                patch,
            })
        }
        Route::Rollback => {
            let b: RollbackRequest = extract(content_type, body)?;
            if b.to == 0 {
                return Err(core(hush_core::Invalid::Version { value: 0 }));
            }
            Ok(Accepted::Rollback { to: b.to })
        }
        Route::Resolve => {
            let b: ResolveRequest = extract(content_type, body)?;
            // hush-core's resolve.
            let max = hush_core::service::MAX_RESOLVE;
            if b.keys.is_empty() || b.keys.len() > max {
                return Err(ApiError::invalid(format!(
                    "give 1 to {max} keys, not {}",
                    b.keys.len()
                )));
            }
            for k in &b.keys {
                validate_key(k).map_err(core)?;
            }
            hush_core::service::check_fallbacks(&b.keys, &b.fallbacks).map_err(core)?;
            if let Some(a) = &b.app {
                validate_app(a).map_err(core)?;
            }
            if let Some(e) = &b.env {
                validate_env(e).map_err(core)?;
            }
            Ok(Accepted::Resolve {
                app: b.app,
                env: b.env,
                keys: b.keys,
                fallbacks: b.fallbacks,
            })
        }
        Route::RegisterApp | Route::PutApp => {
            let m: AppManifest = extract(content_type, body)?;
            if route == Route::PutApp && m.app != PATH_APP {
                return Err(ApiError::invalid(
                    "app: the manifest's `app` must match the name in the path",
                ));
            }
            hush_core::app::validate_manifest(&m).map_err(core)?;
            Ok(Accepted::App(m))
        }
        Route::CreateToken => {
            let b: TokenRequest = extract(content_type, body)?;
            // The handler.
            let (role, name) = role_and_name(&b)?;
            // hush-core's create_token: a token name follows the rule of workspace names.
            hush_core::model::validate_workspace(&name)
                .map_err(|_| ApiError::invalid("name: not a valid token name"))?;
            if name.contains(hush_core::service::SESSION_MARK) {
                return Err(ApiError::invalid("name: marks a web UI session"));
            }
            match (role, &b.app, &b.env) {
                (Role::Machine, Some(a), Some(e)) => {
                    validate_app(a).map_err(core)?;
                    validate_env(e).map_err(core)?;
                }
                (Role::Machine, _, _) | (_, Some(_), _) | (_, _, Some(_)) => {
                    return Err(core(hush_core::Invalid::MachineToken))
                }
                _ => {}
            }
            if b.expires_at.is_some_and(|at| at <= clock::now()) {
                return Err(core(hush_core::Invalid::PastExpiry));
            }
            Ok(Accepted::Token {
                name,
                role,
                app: b.app.clone(),
                env: b.env.clone(),
                expires_at: b.expires_at,
            })
        }
    }
}

/// This module's own reading of the name rule: 1 to `max` characters of
/// `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`.
fn name_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.starts_with(['.', '-'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn env_var_ok(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !s.starts_with("HUSH_")
}

/// Checks one [`Accepted`] against the rules, independently of the validators.
fn check_accepted(route: Route, a: &Accepted) {
    use hush_core::model::{MAX_DESCRIPTION_LEN, MAX_KEY_LEN, MAX_NAME_LEN, MAX_VALUE_LEN};
    match a {
        Accepted::Write {
            key,
            value_len,
            patch,
        } => {
            assert!(name_ok(key, MAX_KEY_LEN), "accepted key {key:?}");
            match value_len {
                Some(n) => assert!((1..=MAX_VALUE_LEN).contains(n), "value of {n} bytes"),
                None => assert_eq!(route, Route::PatchSecret, "a write without a value"),
            }
            if let Some(Some(d)) = &patch.description {
                assert!(d.chars().count() <= MAX_DESCRIPTION_LEN, "long description");
            }
            for app in patch.scope.iter().flatten() {
                assert!(name_ok(app, MAX_NAME_LEN), "accepted scope app {app:?}");
            }
            for env in patch.envs.iter().flatten() {
                assert!(name_ok(env, MAX_NAME_LEN), "accepted env {env:?}");
            }
            if route == Route::PatchSecret {
                assert!(
                    value_len.is_some() || !patch.is_empty(),
                    "an empty patch was accepted"
                );
            }
            // The body the SDK sends for this patch is read back as the same patch.
            let sent = SecretWriteBody::new(None, None, patch.clone());
            assert_eq!(round_trip(&sent).patch().as_ref(), Ok(patch));
        }
        Accepted::Rollback { to } => {
            assert!(*to >= 1, "rollback to version 0");
            let sent = RollbackRequest { to: *to };
            assert_eq!(round_trip(&sent), sent);
        }
        Accepted::Resolve {
            app,
            env,
            keys,
            fallbacks,
        } => {
            assert!(
                (1..=hush_core::service::MAX_RESOLVE).contains(&keys.len()),
                "{} keys",
                keys.len()
            );
            for k in keys {
                assert!(name_ok(k, MAX_KEY_LEN), "accepted key {k:?}");
            }
            for n in app.iter().chain(env) {
                assert!(name_ok(n, MAX_NAME_LEN), "accepted name {n:?}");
            }
            for (k, list) in fallbacks {
                assert!(keys.contains(k), "fallbacks for {k:?}, not asked");
                assert!(list.len() <= hush_core::app::MAX_FALLBACKS);
                for f in list {
                    assert!(name_ok(f, MAX_KEY_LEN), "accepted fallback {f:?}");
                }
            }
            let sent = ResolveRequest {
                app: app.clone(),
                env: env.clone(),
                keys: keys.clone(),
                fallbacks: fallbacks.clone(),
                dry_run: true,
            };
            assert_eq!(round_trip(&sent), sent);
        }
        Accepted::App(m) => {
            assert!(name_ok(&m.app, MAX_NAME_LEN), "accepted app {:?}", m.app);
            if let Some(e) = &m.env {
                assert!(name_ok(e, MAX_NAME_LEN), "accepted env {e:?}");
            }
            if route == Route::PutApp {
                assert_eq!(m.app, PATH_APP);
            }
            assert!(m.secrets.len() <= hush_core::app::MAX_DECLARED);
            let mut names = std::collections::HashSet::new();
            for d in &m.secrets {
                assert!(env_var_ok(&d.name), "accepted variable {:?}", d.name);
                assert!(names.insert(&d.name), "variable {:?} twice", d.name);
                assert!(name_ok(&d.key, MAX_KEY_LEN), "accepted key {:?}", d.key);
                for (i, f) in d.fallback.iter().enumerate() {
                    assert!(name_ok(f, MAX_KEY_LEN), "accepted fallback {f:?}");
                    assert!(
                        *f != d.key && !d.fallback[..i].contains(f),
                        "fallback twice"
                    );
                }
            }
            // What the server stores is what the client sent: the wire type round-trips.
            assert_eq!(&round_trip(m), m);
        }
        Accepted::Token {
            name,
            role,
            app,
            env,
            expires_at,
        } => {
            assert!(name_ok(name, MAX_NAME_LEN), "accepted token name {name:?}");
            assert!(!name.contains(hush_core::service::SESSION_MARK));
            match role {
                Role::Machine => {
                    for n in [app, env] {
                        assert!(
                            n.as_deref().is_some_and(|n| name_ok(n, MAX_NAME_LEN)),
                            "machine token with {n:?}"
                        );
                    }
                }
                _ => assert!(
                    app.is_none() && env.is_none(),
                    "app/env on a {role:?} token"
                ),
            }
            if let Some(at) = expires_at {
                assert!(*at > 0, "accepted expiry {at}");
            }
            // The request the CLI sends for this token asks for the same role and name.
            let sent = TokenRequest {
                name: Some(name.clone()),
                role: (*role != Role::Machine).then(|| role.as_str().to_string()),
                app: app.clone(),
                env: env.clone(),
                expires_at: *expires_at,
                workspace: None,
            };
            let back = round_trip(&sent);
            assert_eq!(back, sent);
            let (r, n) = role_and_name(&back).expect("the same request is accepted again");
            assert_eq!((&r, &n), (role, name));
        }
    }
}

/// `v` serialised as the SDK sends it and read back as the server reads it.
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    let json = serde_json::to_vec(v).expect("a request serialises");
    serde_json::from_slice(&json).expect("and parses back")
}

/// The fuzz target's body: the first byte picks the route, the second the `Content-Type`, the
/// rest is the body. Panics when a refusal is not a 4xx with a message, or when what was
/// accepted breaks a rule.
pub fn request_body_check(data: &[u8]) {
    let (route, ct, body) = match data {
        [r, c, body @ ..] => (
            ROUTES[usize::from(*r) % ROUTES.len()],
            CONTENT_TYPES[usize::from(*c) % CONTENT_TYPES.len()],
            body,
        ),
        _ => return,
    };
    match request_body(route, ct, body) {
        Ok(a) => check_accepted(route, &a),
        Err(e) => {
            assert!(e.status.is_client_error(), "{route:?}: {} {e:?}", e.status);
            assert!(
                !e.message.is_empty() && !e.code.as_str().is_empty(),
                "{e:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(route: Route, json: &str) -> Result<Accepted, ApiError> {
        request_body(route, Some("application/json"), json.as_bytes())
    }

    #[test]
    fn valid_bodies_are_accepted() {
        let w = body(
            Route::CreateSecret,
            r#"{"key":"db.password","value":"s3cret","scope":["billing"],"envs":["prd"]}"#,
        );
        assert!(
            matches!(&w, Ok(Accepted::Write { key, value_len: Some(6), .. }) if key == "db.password"),
            "{w:?}"
        );
        assert!(body(Route::PutSecret, r#"{"value_base64":"aGk="}"#).is_ok());
        assert!(body(Route::PatchSecret, r#"{"description":null}"#).is_ok());
        assert!(body(Route::Rollback, r#"{"to":3}"#).is_ok());
        assert!(body(Route::Resolve, r#"{"keys":["a","b"],"app":"billing"}"#).is_ok());
        let m = r#"{"app":"fuzz-app","secrets":[{"name":"DB","key":"db","fallback":["db2"]}]}"#;
        assert!(body(Route::RegisterApp, m).is_ok());
        assert!(body(Route::PutApp, m).is_ok());
        let t = body(Route::CreateToken, r#"{"app":"billing","env":"prd"}"#);
        assert!(
            matches!(&t, Ok(Accepted::Token { role: Role::Machine, name, .. }) if name == "billing-prd"),
            "{t:?}"
        );
    }

    #[test]
    fn invalid_bodies_are_refused_with_4xx() {
        for (route, json) in [
            (Route::CreateSecret, r#"{"value":"x"}"#),
            (Route::CreateSecret, r#"{"key":"../etc","value":"x"}"#),
            (Route::CreateSecret, r#"{"key":"k","value":""}"#),
            (Route::PutSecret, r#"{"key":"other","value":"x"}"#),
            (Route::PatchSecret, r#"{}"#),
            (Route::PatchSecret, r#"{"envs":[""]}"#),
            (Route::Rollback, r#"{"to":0}"#),
            (Route::Resolve, r#"{"keys":[]}"#),
            (
                Route::RegisterApp,
                r#"{"app":"a","secrets":[{"name":"HUSH_X","key":"k"}]}"#,
            ),
            (Route::PutApp, r#"{"app":"other","secrets":[]}"#),
            (Route::CreateToken, r#"{"role":"admin","app":"a"}"#),
            (Route::CreateToken, r#"{"role":"read","name":"x.ui-1"}"#),
            (Route::CreateToken, r#"{"role":"read","expires_at":-1}"#),
            (Route::CreateToken, r#"{"nmae":"x"}"#),
            (Route::Resolve, "[[[[[[[[[[[[[[[[[[[[[[[["),
        ] {
            let e = body(route, json).expect_err(json);
            assert!(e.status.is_client_error(), "{json}: {e:?}");
        }
    }

    #[test]
    fn seeds_pass_the_checks() {
        request_body_check(b"");
        for r in 0..ROUTES.len() as u8 {
            for c in 0..CONTENT_TYPES.len() as u8 {
                for body in [
                    &b"{}"[..],
                    b"{\"key\":\"k\",\"value\":\"v\"}",
                    b"\xff",
                    b"null",
                ] {
                    let mut data = vec![r, c];
                    data.extend_from_slice(body);
                    request_body_check(&data);
                }
            }
        }
        let deep = "[".repeat(10_000);
        request_body_check(&[[4, 0].as_slice(), deep.as_bytes()].concat());
    }
}
