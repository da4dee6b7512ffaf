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

    /// Every list route answers the one page shape, and every 401, 429 and 503 names its
    /// header (the document is hand-written: this keeps it to the contract).
    #[test]
    fn the_document_states_the_contract_of_pages_and_headers() {
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("valid JSON");
        for path in [
            "/v1/secrets",
            "/v1/secrets/{key}/versions",
            "/v1/apps",
            "/v1/tokens",
            "/v1/audit",
        ] {
            let r = v["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["$ref"]
                .as_str()
                .expect(path);
            let name = r.trim_start_matches("#/components/schemas/");
            let schema = &v["components"]["schemas"][name];
            assert_eq!(
                schema["required"],
                serde_json::json!(["items", "next_cursor"]),
                "{path}"
            );
            assert_eq!(
                schema["properties"]["next_cursor"]["type"], "string",
                "{path}"
            );
        }
        let ops = v["paths"].as_object().expect("paths");
        for (path, item) in ops {
            for (method, op) in item.as_object().expect("operations") {
                let Some(responses) = op["responses"].as_object() else {
                    continue;
                };
                for (code, name) in [
                    ("401", "Unauthorized"),
                    ("429", "RateLimited"),
                    ("503", "Unavailable"),
                ] {
                    if let Some(r) = responses.get(code) {
                        assert_eq!(
                            r["$ref"],
                            format!("#/components/responses/{name}"),
                            "{method} {path} {code}"
                        );
                    }
                }
            }
        }
        let deleted = &v["paths"]["/v1/tokens/{id}"]["delete"]["responses"];
        assert!(deleted.get("204").is_some() && deleted.get("200").is_none());
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
