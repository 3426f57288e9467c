//! `openapi/openapi.json` is the document the standard application serves (the REST API's paths and
//! every standard integration's): a change to a handler's annotations or to a response type must come
//! with `make openapi`.

use std::path::Path;

use firefighter_app::AppBuilder;
use http_api::openapi::ApiDocument;

fn served() -> String {
    ApiDocument::new(&AppBuilder::standard().openapi()).json().to_owned()
}

#[test]
fn the_committed_document_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json");
    let committed = std::fs::read_to_string(&path).expect("openapi/openapi.json exists (run `make openapi`)");
    let generated = served();
    // Compared as JSON values: a dev-dependency may turn on serde_json's `preserve_order` in test
    // builds, which changes the order keys are written in, not the document.
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("JSON");
    assert!(
        parse(&committed) == parse(&generated),
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_every_path_documented() {
    let document: serde_json::Value = serde_json::from_str(&served()).expect("valid JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    for path in [
        "/incidents",
        "/incidents/{id}",
        "/incidents.{format}",
        "/incidents/{id}/updates",
        "/incidents/{id}/roles",
        "/incidents/{id}/key-events",
        "/incidents/{id}/costs",
        "/incidents/{id}/costs/{cost_id}",
        "/environments",
        "/severities",
        "/priorities",
        "/incident-categories",
        "/components",
        "/groups",
        "/incident_costs",
        "/incident_cost_types",
        "/users",
        "/role-types",
        "/key-event-types",
        "/metric-types",
        "/impact-types",
        "/api-tokens",
        "/api-tokens/{id}",
        "/webhooks",
        "/webhooks/{id}",
        "/webhooks/{id}/deliveries",
        "/monitoring/healthcheck",
        "/monitoring/readiness",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    // Every operation documents its errors with an example and is protected by the bearer scheme,
    // but the monitoring ones, which are public (and say so) and show their answers.
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            let responses = operation["responses"].as_object().expect("responses");
            if path.starts_with("/monitoring/") {
                assert_eq!(operation["security"], serde_json::json!([{}]), "{method} {path} is public");
                assert!(
                    responses["200"]["content"]["application/json"]["example"].is_object(),
                    "{method} {path}"
                );
                continue;
            }
            assert!(responses.contains_key("401"), "{method} {path} does not document 401");
            let unauthorized = &responses["401"]["content"]["application/json"];
            assert!(unauthorized["example"].is_object(), "{method} {path}: 401 without an example");
            assert!(operation["summary"].is_string(), "{method} {path} has no summary");
        }
    }
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}
