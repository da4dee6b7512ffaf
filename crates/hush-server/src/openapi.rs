//! The OpenAPI 3.1 document, generated from the code with utoipa: the schemas are the
//! `hush-wire` types the handlers read and answer (their serde attributes decide `required`
//! and `nullable`), and the operations are the `#[utoipa::path]` attributes on the handlers.
//! [`Common`] adds what every route shares (the bearer scheme, the 401/429/500/503 answers,
//! and 400/413/415 where a body or parameters are read). Served at `/v1/openapi.json`;
//! `crates/hush-server/openapi.json` is a copy for tools (clients' type generators, the
//! spec validator in CI) that a test keeps equal to what the server serves.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use hush_wire::ErrorBody;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder,
};
use utoipa::{Modify, OpenApi, PartialSchema as _, ToSchema};

/// `{"status": …}`: the answer of `/readyz`.
#[derive(serde::Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ready`.
    status: String,
}

/// The answer of `/healthz`: alive, and which build.
#[derive(serde::Serialize, ToSchema)]
pub(crate) struct Alive {
    /// `ok`.
    status: String,
    /// The version (`0.1.0`).
    version: String,
    /// The commit built from (12 hex digits), or `unknown`.
    commit: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hush API",
        version = "1",
        description = "Secrets for workloads. Every /v1 route but this document takes \
            `Authorization: Bearer <token>`. Errors are `{\"error\": {\"code\", \"message\"}}`; \
            clients should accept an error `code` they do not know (a newer server's). Lists \
            answer `{items, next_cursor}`: pass `next_cursor` back as `cursor` until it is null.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        crate::create_secret,
        crate::list_secrets,
        crate::get_secret,
        crate::put_secret,
        crate::patch_secret,
        crate::delete_secret,
        crate::revoke_secret,
        crate::restore_secret,
        crate::versions,
        crate::rollback,
        crate::resolve,
        crate::register_app,
        crate::list_apps,
        crate::show_app,
        crate::put_app,
        crate::delete_app,
        crate::create_token,
        crate::list_tokens,
        crate::delete_token,
        crate::revoke_token,
        crate::whoami,
        crate::audit,
        crate::audit_verify,
        crate::audit_head,
        crate::audit_prune,
        crate::events::follow,
        crate::webhooks::create,
        crate::webhooks::list,
        crate::webhooks::remove,
        crate::webhooks::deliveries,
        crate::healthz,
        crate::readyz,
        crate::metrics::render,
        document,
    ),
    components(schemas(hush_wire::ErrorCode, hush_wire::Reason)),
    modifiers(&Common),
    tags(
        (name = "secrets", description = "Secrets: values, metadata, versions, status"),
        (name = "resolve", description = "The one call of a workload: many keys at once"),
        (name = "apps", description = "Registered apps: the manifests of workloads"),
        (name = "tokens", description = "API and machine tokens (admin)"),
        (name = "audit", description = "The hash-chained audit log (admin)"),
        (name = "events", description = "Change events of secrets, as Server-Sent Events"),
        (name = "webhooks", description = "Webhooks: change events POSTed, signed, to endpoints (admin)"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct Api;

/// What every route shares, added to each operation rather than written on each handler.
struct Common;

/// The reusable answers, by name, and the statuses they answer.
const UNAUTHORIZED: &str = "Unauthorized";
const RATE_LIMITED: &str = "RateLimited";
const UNAVAILABLE: &str = "Unavailable";
const INTERNAL: &str = "Internal";
const BAD_REQUEST: &str = "BadRequest";
const TOO_LARGE: &str = "TooLarge";
const UNSUPPORTED: &str = "UnsupportedMediaType";

fn error_response(description: &str, header: Option<(&str, &str)>) -> utoipa::openapi::Response {
    let mut b = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build(),
    );
    if let Some((name, what)) = header {
        b = b.header(
            name,
            HeaderBuilder::new()
                .schema(String::schema())
                .description(Some(what))
                .build(),
        );
    }
    b.build()
}

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A hush token (`hush_…`): `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
        let answers = [
            (
                UNAUTHORIZED,
                error_response(
                    "unauthorized: no token, or an unknown, revoked or expired one",
                    Some((
                        "WWW-Authenticate",
                        "`Bearer realm=\"hush\"`, with `error=\"invalid_token\"` when a token \
                         was presented",
                    )),
                ),
            ),
            (
                RATE_LIMITED,
                error_response(
                    "rate_limited: too many failed authentications from this address",
                    Some(("Retry-After", "Seconds until failures are accepted again")),
                ),
            ),
            (
                UNAVAILABLE,
                error_response(
                    "unavailable: the store does not answer",
                    Some(("Retry-After", "Seconds to wait before trying again")),
                ),
            ),
            (
                INTERNAL,
                error_response(
                    "internal or decrypt_failed: the cause is in the server log",
                    None,
                ),
            ),
            (
                BAD_REQUEST,
                error_response(
                    "bad_request: the body, query string or a header could not be read",
                    None,
                ),
            ),
            (
                TOO_LARGE,
                error_response("too_large: the body is over 2 MiB", None),
            ),
            (
                UNSUPPORTED,
                error_response(
                    "unsupported_media_type: the body is not `application/json`, or is encoded",
                    None,
                ),
            ),
        ];
        for (name, response) in answers {
            components
                .responses
                .insert(name.to_string(), response.into());
        }
        let bearer =
            utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>("bearer", []);
        for (path, item) in doc.paths.paths.iter_mut() {
            let v1 = path.starts_with("/v1/") && path != "/v1/openapi.json";
            for op in [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                if v1 {
                    op.security = Some(vec![bearer.clone()]);
                    add(op, "401", UNAUTHORIZED);
                    add(op, "429", RATE_LIMITED);
                    add(op, "503", UNAVAILABLE);
                }
                add(op, "500", INTERNAL);
                let reads_input = op.request_body.is_some()
                    || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                if reads_input {
                    add(op, "400", BAD_REQUEST);
                }
                if op.request_body.is_some() {
                    add(op, "413", TOO_LARGE);
                    add(op, "415", UNSUPPORTED);
                }
            }
        }
    }
}

/// Adds the named reusable answer for `status`, unless the handler states its own.
fn add(op: &mut Operation, status: &str, name: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
}

/// The document as served: pretty JSON, built once.
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut text = Api::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"the document did not serialise: {e}\"}}"));
        text.push('\n');
        text
    })
}

/// This document.
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], json())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::from_str(super::json()).expect("valid JSON")
    }

    /// The checked-in copy is what the server serves. `HUSH_UPDATE_OPENAPI=1 cargo test -p
    /// hush-server openapi` rewrites it after an API change.
    #[test]
    fn the_checked_in_copy_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        if std::env::var_os("HUSH_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, super::json()).expect("write openapi.json");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == super::json(),
            "crates/hush-server/openapi.json is not the generated document: run \
             `HUSH_UPDATE_OPENAPI=1 cargo test -p hush-server openapi`, then \
             `npm run gen-types` in sdk/node"
        );
    }

    #[test]
    fn every_operation_has_an_id_a_tag_and_its_statuses() {
        let v = doc();
        assert_eq!(v["openapi"], "3.1.0");
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in v["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                let id = op["operationId"].as_str().expect("an operationId");
                assert!(ids.insert(id.to_string()), "{id} twice");
                assert_eq!(
                    op["tags"].as_array().map(Vec::len),
                    Some(1),
                    "{method} {path}"
                );
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}"
                );
                if path.starts_with("/v1/") && path != "/v1/openapi.json" {
                    assert_eq!(op["security"][0]["bearer"], serde_json::json!([]));
                    for s in ["401", "429", "503"] {
                        assert!(responses.contains_key(s), "{method} {path} {s}");
                    }
                }
            }
        }
        assert!(ids.len() >= 27, "{ids:?}");
    }

    #[test]
    fn nullable_fields_admit_null_and_answers_require_their_fields() {
        let v = doc();
        let meta = &v["components"]["schemas"]["SecretMeta"];
        let token_type = serde_json::to_string(&meta["properties"]["token_type"]).unwrap();
        assert!(token_type.contains("null"), "{token_type}");
        let required: Vec<&str> = meta["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for f in [
            "id",
            "key",
            "token_type",
            "expires_at",
            "status",
            "version",
            "revision",
        ] {
            assert!(required.contains(&f), "{f} not required: {required:?}");
        }
        assert!(!required.contains(&"used_by"));
    }

    #[test]
    fn the_codes_are_the_wire_codes() {
        let v = doc();
        let reasons: Vec<&str> = v["components"]["schemas"]["Reason"]["enum"]
            .as_array()
            .expect("an enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(reasons, hush_wire::Reason::KNOWN);
        let codes = v["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("an enum")
            .len();
        assert_eq!(codes, hush_wire::ErrorCode::KNOWN.len());
    }
}
