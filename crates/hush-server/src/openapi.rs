//! The OpenAPI 3 document, kept beside the code as JSON and served at `/v1/openapi.json`.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

const DOCUMENT: &str = include_str!("../openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_valid_json_describing_every_route() {
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("valid JSON");
        assert_eq!(
            v["openapi"].as_str().map(|s| s.starts_with("3.")),
            Some(true)
        );
        let paths = v["paths"].as_object().expect("paths");
        for p in [
            "/v1/secrets",
            "/v1/secrets/{key}",
            "/v1/secrets/{key}/revoke",
            "/v1/secrets/{key}/restore",
            "/v1/secrets/{key}/versions",
            "/v1/secrets/{key}/rollback",
            "/v1/resolve",
            "/v1/apps",
            "/v1/apps/{name}",
            "/v1/tokens",
            "/v1/tokens/{id}",
            "/v1/tokens/{id}/revoke",
            "/v1/audit",
            "/v1/audit/verify",
            "/v1/audit/head",
            "/healthz",
            "/readyz",
            "/metrics",
            "/v1/openapi.json",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
    }

    /// The refusal codes the document lists for `/v1/resolve` are the contract's.
    #[test]
    fn the_resolve_codes_are_the_wire_reasons() {
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("valid JSON");
        let codes = &v["components"]["schemas"]["Resolved"]["properties"]["errors"]
            ["additionalProperties"]["properties"]["code"]["enum"];
        let codes: Vec<&str> = codes
            .as_array()
            .expect("an enum")
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        assert_eq!(codes, hush_wire::Reason::KNOWN);
    }
}
