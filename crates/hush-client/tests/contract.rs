//! The wire contract, end to end: every request type the SDK sends goes to a real server (the
//! `hush_server` router on 127.0.0.1, over SQLite in a temporary directory), and what the
//! server understood is read back and compared field by field. A field the server does not
//! know is refused, naming the ones it takes.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use hush_client::{AuditQuery, Client, Error, ErrorCode, ListQuery, Reason, ValueBytes as _};
use hush_core::token::Role;
use hush_core::{Actor, Hush, KeyFileSource};
use hush_store_sqlite::SqliteStore;
use hush_wire::{
    AppManifest, Delivery, ErrorBody, MetadataPatch, SecretDecl, SecretMeta, TokenRequest,
    TokenType, ValueFormat,
};

/// A server on a free port over a fresh store, with an admin token.
struct Api {
    _dir: tempfile::TempDir,
    base: String,
    admin: Client,
    http: reqwest::Client,
    token: String,
}

async fn start() -> Api {
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = hush_server::router(hush_server::AppState::new(Arc::new(hush)));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Api {
        _dir: dir,
        admin: Client::new(&base, &token).unwrap(),
        base,
        http: reqwest::Client::new(),
        token,
    }
}

impl Api {
    /// A raw JSON request, for what the SDK never sends: the status and the error, if any.
    async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &str,
    ) -> (u16, Option<ErrorBody>) {
        let res = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).ok())
    }
}

fn in_days(days: i64) -> i64 {
    hush_core::clock::now() + days * 86_400
}

/// Every metadata field of `m` as `p` set it.
fn assert_meta(m: &SecretMeta, p: &MetadataPatch) {
    if let Some(d) = &p.description {
        assert_eq!(&m.description, d, "description");
    }
    if let Some(t) = p.token_type {
        assert_eq!(
            m.token_type.as_deref(),
            t.map(TokenType::as_str),
            "token_type"
        );
    }
    if let Some(s) = &p.scope {
        assert_eq!(&m.scope, s, "scope");
    }
    if let Some(e) = &p.envs {
        assert_eq!(&m.envs, e, "envs");
    }
    if let Some(x) = p.expires_at {
        assert_eq!(m.expires_at, x, "expires_at");
    }
}

#[tokio::test]
async fn secret_writes_carry_every_field() {
    let api = start().await;
    let c = &api.admin;
    let full = MetadataPatch {
        description: Some(Some("Stripe, production".into())),
        token_type: Some(Some(TokenType::Access)),
        scope: Some(vec!["billing".into(), "ingest".into()]),
        envs: Some(vec!["prd".into(), "staging".into()]),
        expires_at: Some(Some(in_days(30))),
        ..MetadataPatch::default()
    };

    // POST /v1/secrets: a text value (`value`) and every field.
    let created = c
        .create("stripe", b"sk_live_text", full.clone())
        .await
        .unwrap();
    assert_eq!((created.key.as_str(), created.version), ("stripe", 1));
    assert_meta(&created, &full);
    let read = c.fetch("stripe", None).await.unwrap();
    assert_eq!(read.bytes().unwrap().as_slice(), b"sk_live_text");
    assert_eq!(read.value.as_deref(), Some("sk_live_text"));
    assert_meta(&read.meta, &full);
    assert_meta(&c.show("stripe").await.unwrap(), &full);

    // PUT /v1/secrets/{key}: bytes that are not UTF-8 travel as `value_base64`.
    let bytes = b"\xff\x00\xfe binary";
    let put = c.put("cert", bytes, full.clone()).await.unwrap();
    assert_meta(&put, &full);
    let read = c.fetch("cert", None).await.unwrap();
    assert_eq!(read.value, None);
    assert_eq!(read.bytes().unwrap().as_slice(), bytes);
    // PUT again replaces the value and keeps what the patch leaves out.
    let put = c
        .put("cert", b"v2", MetadataPatch::default())
        .await
        .unwrap();
    assert_eq!(put.version, 2);
    assert_meta(&put, &full);

    // PATCH: a field at a time, the others left as they are.
    let one = MetadataPatch {
        description: Some(Some("rotated".into())),
        ..MetadataPatch::default()
    };
    let patched = c
        .update("stripe", None, one.clone(), Some(1))
        .await
        .unwrap();
    assert_meta(&patched, &one);
    assert_meta(
        &patched,
        &MetadataPatch {
            description: None,
            ..full.clone()
        },
    );
    assert_eq!(patched.version, 1, "a metadata change writes no value");

    // PATCH with `null` (and `[]`) clears every field.
    let clear = MetadataPatch {
        description: Some(None),
        token_type: Some(None),
        scope: Some(vec![]),
        envs: Some(vec![]),
        expires_at: Some(None),
        ..MetadataPatch::default()
    };
    let cleared = c
        .update("stripe", Some(b"sk_live_new"), clear.clone(), Some(1))
        .await
        .unwrap();
    assert_meta(&cleared, &clear);
    assert_eq!(cleared.version, 2);
    assert_eq!(
        c.fetch("stripe", Some(2))
            .await
            .unwrap()
            .bytes()
            .unwrap()
            .as_slice(),
        b"sk_live_new"
    );
    // The version given (`expected_version`) is understood: a stale one is refused.
    let stale = c.update("stripe", Some(b"x"), MetadataPatch::default(), Some(1));
    assert!(matches!(
        stale.await,
        Err(Error::Conflict {
            code: ErrorCode::StaleVersion,
            ..
        })
    ));

    // `null` for a list clears it too, as the server always took it.
    c.update("cert", None, full.clone(), None).await.unwrap();
    let (status, _) = api
        .raw(
            reqwest::Method::PATCH,
            "/v1/secrets/cert",
            r#"{"scope":null,"envs":null,"description":null}"#,
        )
        .await;
    assert_eq!(status, 200);
    let m = c.show("cert").await.unwrap();
    assert_eq!((m.scope.len(), m.envs.len(), m.description), (0, 0, None));

    // Error codes arrive typed.
    let again = c.create("stripe", b"x", MetadataPatch::default()).await;
    assert!(matches!(
        again,
        Err(Error::Conflict {
            code: ErrorCode::Exists,
            ..
        })
    ));
}

#[tokio::test]
async fn rollback_history_list_delete_and_audit_are_understood() {
    let api = start().await;
    let c = &api.admin;
    let none = MetadataPatch::default;
    c.create("db.password", b"one", none()).await.unwrap();
    c.put("db.password", b"two", none()).await.unwrap();
    c.create("db.user", b"u", none()).await.unwrap();
    c.create("other", b"o", none()).await.unwrap();

    // POST /v1/secrets/{key}/rollback.
    let back = c.rollback("db.password", 1).await.unwrap();
    assert_eq!(back.version, 3);
    let read = c.fetch("db.password", None).await.unwrap();
    assert_eq!(read.bytes().unwrap().as_slice(), b"one");
    // GET /v1/secrets/{key}?version=.
    let v2 = c.fetch("db.password", Some(2)).await.unwrap();
    assert_eq!(
        (v2.value_version, v2.bytes().unwrap().as_slice()),
        (2, &b"two"[..])
    );
    assert_eq!(c.versions("db.password").await.unwrap().len(), 3);

    // GET /v1/secrets with filters.
    let q = ListQuery {
        prefix: Some("db.".into()),
        ..ListQuery::default()
    };
    let keys: Vec<String> = c
        .list(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["db.password", "db.user"]);
    c.revoke("db.user").await.unwrap();
    let revoked = ListQuery {
        status: Some("revoked".into()),
        ..ListQuery::default()
    };
    let keys: Vec<String> = c
        .list(&revoked)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["db.user"]);
    assert!(matches!(
        c.fetch("db.user", None).await,
        Err(Error::Forbidden {
            code: ErrorCode::Revoked,
            ..
        })
    ));
    c.restore("db.user").await.unwrap();

    // DELETE /v1/secrets/{key}?force=true: refused while an app names it, done with force.
    let manifest = AppManifest {
        app: "billing".into(),
        env: None,
        secrets: vec![SecretDecl {
            name: "DB".into(),
            key: "other".into(),
            required: true,
            fallback: vec![],
            delivery: Delivery::Env,
        }],
    };
    c.register_app(&manifest).await.unwrap();
    assert!(matches!(
        c.delete("other", false).await,
        Err(Error::Conflict {
            code: ErrorCode::InUse,
            ..
        })
    ));
    c.delete("other", true).await.unwrap();
    assert!(matches!(c.show("other").await, Err(Error::NotFound(_))));

    // GET /v1/audit with a key filter, and /v1/audit/verify with a head.
    let rows = c
        .audit(&AuditQuery {
            key: Some("db.user".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.key.as_deref() == Some("db.user")));
    let head = c.audit_head().await.unwrap();
    let verdict = c.verify_audit_with_head(&head).await.unwrap();
    assert!(verdict.intact && verdict.head_checked, "{verdict:?}");
}

#[tokio::test]
async fn resolve_answers_values_and_typed_refusals() {
    let api = start().await;
    let c = &api.admin;
    let none = MetadataPatch::default;
    c.create("ok", b"value", none()).await.unwrap();
    c.create("gone", b"x", none()).await.unwrap();
    c.revoke("gone").await.unwrap();
    let past = MetadataPatch {
        expires_at: Some(Some(1_000_000)),
        allow_past: true,
        ..none()
    };
    c.create("old", b"x", past).await.unwrap();
    let elsewhere = MetadataPatch {
        scope: Some(vec!["ingest".into()]),
        ..none()
    };
    c.create("theirs", b"x", elsewhere).await.unwrap();
    let keys: Vec<String> = ["ok", "gone", "old", "theirs", "nope"]
        .map(String::from)
        .to_vec();

    // POST /v1/resolve, with `app` and `env` understood: `theirs` is scoped to another app.
    let r = c
        .resolve(Some("billing"), Some("prd"), &keys)
        .await
        .unwrap();
    assert_eq!(r.secrets["ok"].bytes().unwrap().as_slice(), b"value");
    let codes: Vec<(&str, &Reason)> = r
        .errors
        .iter()
        .map(|(k, e)| (k.as_str(), &e.code))
        .collect();
    assert_eq!(
        codes,
        [
            ("gone", &Reason::Revoked),
            ("nope", &Reason::Missing),
            ("old", &Reason::Expired),
            ("theirs", &Reason::OutOfScope),
        ]
    );
    assert!(r.errors.values().all(|e| !e.message.is_empty()));

    // The dry run (`dry_run: true`): metadata, no value, the same refusals.
    let d = c.check(Some("billing"), Some("prd"), &keys).await.unwrap();
    assert_eq!(d.secrets["ok"].value, None);
    assert_eq!(d.secrets["ok"].value_base64, None);
    assert_eq!(d.secrets["ok"].meta.key, "ok");
    assert_eq!(d.errors, r.errors);
    // Without an app, scope does not apply.
    let all = c.resolve(None, None, &keys[3..4]).await.unwrap();
    assert!(all.secrets.contains_key("theirs"));
}

#[tokio::test]
async fn tokens_and_apps_are_made_as_asked() {
    let api = start().await;
    let c = &api.admin;
    let expires = in_days(7);
    for role in ["admin", "write", "read"] {
        let t = c
            .create_token(&TokenRequest {
                name: Some(format!("{role}-bot")),
                role: Some(role.into()),
                expires_at: Some(expires),
                ..TokenRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(t.info.role, role);
        assert_eq!(t.info.name, format!("{role}-bot"));
        assert_eq!(t.info.expires_at, Some(expires));
        assert_eq!((t.info.app.as_deref(), t.info.env.as_deref()), (None, None));
        // The new token works, with its role.
        let own = Client::new(&api.base, &t.token).unwrap();
        let key = format!("by-{role}");
        let made = own.create(&key, b"x", MetadataPatch::default());
        match role {
            "read" => assert!(matches!(
                made.await,
                Err(Error::Forbidden {
                    code: ErrorCode::Forbidden,
                    ..
                })
            )),
            _ => assert!(made.await.is_ok(), "{role}"),
        }
    }
    // A name left out is the role's.
    let unnamed = c
        .create_token(&TokenRequest {
            role: Some("read".into()),
            ..TokenRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(unnamed.info.name, "read");

    // POST /v1/apps: every field of the manifest is kept.
    c.create("db", b"db-value", MetadataPatch::default())
        .await
        .unwrap();
    let manifest = AppManifest {
        app: "billing".into(),
        env: Some("prd".into()),
        secrets: vec![
            SecretDecl {
                name: "DB_PASSWORD".into(),
                key: "db".into(),
                required: true,
                fallback: vec!["db-old".into()],
                delivery: Delivery::Env,
            },
            SecretDecl {
                name: "CERT_PATH".into(),
                key: "cert".into(),
                required: false,
                fallback: vec![],
                delivery: Delivery::File,
            },
        ],
    };
    let info = c.register_app(&manifest).await.unwrap();
    assert_eq!(
        (info.app.as_str(), info.env.as_deref(), &info.secrets),
        ("billing", Some("prd"), &manifest.secrets)
    );
    let keys: Vec<&str> = info.keys.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys, ["cert", "db", "db-old"]);
    assert_eq!(c.app("billing").await.unwrap().secrets, manifest.secrets);

    // A machine token (`app` and `env`, no role), named `APP-ENV` by default, resolves only as
    // its app in its environment.
    let m = c
        .create_token(&TokenRequest {
            app: Some("billing".into()),
            env: Some("prd".into()),
            ..TokenRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (m.info.role.as_str(), m.info.name.as_str()),
        ("machine", "billing-prd")
    );
    assert_eq!(
        (m.info.app.as_deref(), m.info.env.as_deref()),
        (Some("billing"), Some("prd"))
    );
    let machine = Client::new(&api.base, &m.token).unwrap();
    let got = machine
        .resolve(Some("billing"), Some("prd"), &["db".to_string()])
        .await
        .unwrap();
    assert_eq!(got.secrets["db"].bytes().unwrap().as_slice(), b"db-value");
    assert!(matches!(
        machine
            .resolve(Some("billing"), Some("dev"), &["db".to_string()])
            .await,
        Err(Error::Forbidden { .. })
    ));
}

#[tokio::test]
async fn unknown_fields_are_refused_naming_the_known_ones() {
    let api = start().await;
    api.admin
        .create("k", b"v", MetadataPatch::default())
        .await
        .unwrap();
    use reqwest::Method as M;
    const WRITE: &str = "`key`, `value`, `value_base64`, `description`, `token_type`, `scope`, \
                         `envs`, `expires_at`, `notify_before`, `allow_past`, `format`, `expected_version`";
    const RESOLVE: &str = "`app`, `env`, `keys`, `fallbacks`, `dry_run`";
    const TOKEN: &str = "`name`, `role`, `app`, `env`, `expires_at`, `workspace`";
    const APP: &str = "`app`, `env`, `secrets`";
    let cases = [
        (
            M::POST,
            "/v1/secrets",
            r#"{"key":"k2","value":"v","vaule":"x"}"#,
            Some(WRITE),
        ),
        (
            M::PUT,
            "/v1/secrets/k",
            r#"{"value":"v","scopes":["a"]}"#,
            Some(WRITE),
        ),
        (M::PATCH, "/v1/secrets/k", r#"{"expires":1}"#, Some(WRITE)),
        // serde names a lone field without "one of": the generic message, as always.
        (
            M::POST,
            "/v1/secrets/k/rollback",
            r#"{"to":1,"from":2}"#,
            None,
        ),
        (
            M::POST,
            "/v1/resolve",
            r#"{"keys":["k"],"dryrun":true}"#,
            Some(RESOLVE),
        ),
        (
            M::POST,
            "/v1/tokens",
            r#"{"role":"read","nmae":"x"}"#,
            Some(TOKEN),
        ),
        (M::POST, "/v1/apps", r#"{"app":"a","secret":[]}"#, Some(APP)),
    ];
    for (method, path, body, known) in cases {
        let (status, body) = api.raw(method, path, body).await;
        let error = body.expect("an error body").error;
        assert_eq!(
            (status, &error.code),
            (422, &ErrorCode::InvalidField),
            "{path}"
        );
        let want = match known {
            Some(k) => format!("unknown field: this route takes {k} (see /v1/openapi.json)"),
            None => "unknown field: see /v1/openapi.json for the fields this route takes".into(),
        };
        assert_eq!(error.message, want, "{path}");
    }
    // Nothing was written by the refused bodies.
    let keys: Vec<String> = api
        .admin
        .list(&ListQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["k"]);
    // An unknown query parameter too.
    let (status, body) = api.raw(M::GET, "/v1/secrets?prefx=a", "").await;
    let code = body.map(|b| b.error.code);
    assert_eq!((status, code), (400, Some(ErrorCode::BadRequest)));
}

/// Issue 16: the SDK's `MetadataPatch` carries `format` and `allow_past`, and `TokenRequest`
/// carries `workspace`, as the server reads them.
#[tokio::test]
async fn values_are_checked_at_the_door() {
    let api = start().await;
    let c = &api.admin;
    let json = MetadataPatch {
        format: Some(ValueFormat::Json),
        ..MetadataPatch::default()
    };
    let err = c
        .create("cfg", b"{\"broken\":", json.clone())
        .await
        .unwrap_err();
    match &err {
        Error::Invalid {
            status: 422,
            message,
            ..
        } => assert!(message.contains("not valid JSON"), "{message}"),
        other => panic!("{other:?}"),
    }
    c.create("cfg", b"{\"ok\": 1}", json).await.unwrap();
    let past = MetadataPatch {
        expires_at: Some(Some(1_000_000_000)),
        ..MetadataPatch::default()
    };
    assert!(matches!(
        c.update("cfg", None, past.clone(), None).await,
        Err(Error::Invalid { status: 422, .. })
    ));
    let meant = MetadataPatch {
        allow_past: true,
        ..past
    };
    let old = c.update("cfg", None, meant, None).await.unwrap();
    assert_eq!(old.status, "expired");

    let own = c
        .create_token(&TokenRequest {
            role: Some("read".into()),
            workspace: Some("default".into()),
            ..TokenRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(own.info.role, "read");
    let other = c
        .create_token(&TokenRequest {
            role: Some("read".into()),
            workspace: Some("elsewhere".into()),
            ..TokenRequest::default()
        })
        .await;
    assert!(matches!(other, Err(Error::Forbidden { .. })), "{other:?}");
}
