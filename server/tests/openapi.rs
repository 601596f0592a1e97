//! `GET /openapi.json`: an OpenAPI 3.1 document that documents every route the router
//! serves — checked three ways: against the list below, against the `.route(…)` calls in
//! `src/api/*.rs` (so a new route without docs fails here), and by sending each listed
//! route through the router — and whose schemas match what the API really answers.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Gateway, card, sealed};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tower::ServiceExt;

const SHOP: &str = "https://shop.example";

/// Every (method, path template) the router serves, in OpenAPI's spelling (axum's
/// `{*file}` is `{file}`). Keep in step with `src/api/*.rs`; the tests below say when not.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/sessions"),
    ("get", "/v1/sessions/{id}"),
    ("get", "/v1/payments"),
    ("get", "/v1/payments/{id}"),
    ("post", "/v1/payments/{id}/capture"),
    ("post", "/v1/payments/{id}/cancel"),
    ("post", "/v1/payments/{id}/refunds"),
    ("post", "/v1/webhook_endpoints"),
    ("get", "/v1/webhook_endpoints"),
    ("get", "/v1/webhook_endpoints/{id}"),
    ("delete", "/v1/webhook_endpoints/{id}"),
    ("get", "/v1/events"),
    ("get", "/v1/events/{id}"),
    ("post", "/v1/events/{id}/redeliver"),
    ("post", "/v1/payments"),
    ("post", "/v1/customers"),
    ("get", "/v1/customers"),
    ("get", "/v1/customers/{id}"),
    ("post", "/v1/customers/{id}"),
    ("delete", "/v1/customers/{id}"),
    ("get", "/v1/customers/{id}/payment_methods"),
    ("get", "/v1/customers/{id}/transactions"),
    ("get", "/v1/customers/{id}/export"),
    ("post", "/v1/payment_methods/{id}/detach"),
    ("get", "/v1/audit_log"),
    ("get", "/v1/frame/sessions/{id}"),
    ("post", "/v1/frame/sessions/{id}/confirm"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/embed.js"),
    ("get", "/frame/"),
    ("get", "/frame/{file}"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The merchant API: secret key, JSON errors, `Idempotency-Key` on POSTs.
fn is_merchant(path: &str) -> bool {
    path.starts_with("/v1/") && !path.starts_with("/v1/frame/")
}

async fn document(gw: &Gateway) -> Value {
    let (status, doc) = gw.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

/// `{"$ref": "#/components/schemas/Name"}` → the named schema.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("not a schema reference: {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "dangling reference {reference}");
            resolve(doc, target)
        }
        None => schema,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `value` against `schema` as far as this document uses JSON Schema: `$ref`,
/// `type` (one or several), `properties`/`required` (objects must not carry undocumented
/// fields), `items`, `oneOf`.
#[track_caller]
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(doc, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let fits =
            |option: &Value| std::panic::catch_unwind(|| conforms(doc, option, value, at)).is_ok();
        assert!(
            options.iter().any(fits),
            "{at}: {value} fits no oneOf option of {schema}"
        );
        return;
    }
    let actual = json_type(value);
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return, // Free form.
    };
    assert!(
        allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number")),
        "{at}: {value} is {actual}, the schema says {allowed:?}"
    );
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                assert!(
                    fields.contains_key(name),
                    "{at}: `{name}` is missing from {value}"
                );
            }
            if let Some(properties) = properties {
                for (name, field) in fields {
                    let property = properties
                        .get(name)
                        .unwrap_or_else(|| panic!("{at}: `{name}` is not documented"));
                    conforms(doc, property, field, &format!("{at}.{name}"));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(doc, &schema["items"], item, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

/// The schema `path`'s `method` documents for `status` as JSON.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} documents no JSON {status}"
    );
    schema
}

/// The (method, path) pairs of the `.route(…)` calls in `src/api/*.rs`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("src/api") {
        let path = entry.expect("dir entry").path();
        let source = std::fs::read_to_string(&path).expect("source file");
        for other in [".nest(", ".route_service(", ".nest_service("] {
            assert!(
                !source.contains(other),
                "{}: `{other}` routes are not understood by this test; extend it",
                path.display()
            );
        }
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(\"") {
            rest = &rest[at + ".route(\"".len()..];
            let end = rest.find('"').expect("end of the route's path");
            let route = rest[..end].replace("{*", "{");
            // The method router: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let len = rest[end..]
                .char_indices()
                .find_map(|(i, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(i)
                })
                .expect("end of .route(");
            let methods = &rest[end..end + len];
            let mut found = false;
            for method in METHODS.iter().chain(&["any"]) {
                let call = format!("{method}(");
                let mut search = methods;
                while let Some(i) = search.find(&call) {
                    let before = methods.len() - search.len() + i;
                    let prev = methods[..before].chars().next_back().unwrap_or(' ');
                    if !(prev.is_alphanumeric() || prev == '_') {
                        assert_ne!(*method, "any", "{route}: `any(…)` cannot be documented");
                        routes.insert((method.to_string(), route.clone()));
                        found = true;
                    }
                    search = &search[i + call.len()..];
                }
            }
            assert!(found, "{}: no method found for {route}", path.display());
        }
    }
    routes
}

fn listed() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

#[tokio::test]
async fn the_route_list_is_what_the_router_serves() {
    assert_eq!(listed().len(), ROUTES.len(), "duplicates in ROUTES");
    assert_eq!(
        routes_in_source(),
        listed(),
        "ROUTES differs from the .route(…) calls of src/api/*.rs"
    );
    // And the router really answers each of them (not with its 404/405 fallbacks).
    let gw = Gateway::start().await;
    for (method, path) in ROUTES {
        let concrete = path.replace("{id}", "x").replace("{file}", "x.js");
        let request = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
            .uri(&concrete)
            .body(Body::empty())
            .unwrap();
        let (status, body) = gw.call(request).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {body}"
        );
        assert!(
            !(status == StatusCode::NOT_FOUND && body.contains("No such route")),
            "{method} {path} is not routed: {body}"
        );
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_served_as_json() {
    let gw = Gateway::start().await;
    let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let response = payframe_server::app(gw.state().clone())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "content type"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let doc: Value = serde_json::from_slice(&bytes).expect("JSON");
    let version = doc["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1"), "openapi {version}");
    assert_eq!(doc["info"]["title"], "Payframe API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    // No absolute server: the document is valid wherever the gateway runs.
    assert!(
        doc.get("servers").is_none_or(|s| s
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["url"].as_str().unwrap().starts_with('/'))),
        "{}",
        doc["servers"]
    );
}

#[tokio::test]
async fn every_route_is_documented_and_nothing_else() {
    let doc = document(&Gateway::start().await).await;
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in ROUTES {
        assert!(
            paths
                .get(*path)
                .and_then(|p| p.get(*method))
                .is_some_and(Value::is_object),
            "{method} {path} is not documented"
        );
    }
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(*method).is_some() {
                documented.insert((method.to_string(), path.clone()));
            }
        }
    }
    assert_eq!(documented.len(), ROUTES.len(), "{documented:?}");
    assert_eq!(documented, listed());
}

#[tokio::test]
async fn operations_document_auth_idempotency_parameters_and_errors() {
    let doc = document(&Gateway::start().await).await;
    let error_ref = json!("#/components/schemas/ErrorBody");
    let mut ids = BTreeSet::new();
    for (method, path) in ROUTES {
        let op = &doc["paths"][*path][*method];
        let at = format!("{method} {path}");
        let id = op["operationId"].as_str().expect("operationId").to_owned();
        assert!(ids.insert(id), "{at}: duplicate operationId");
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{at}: no tag"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{at}: no success response"
        );
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let param = |name: &str, place: &str| {
            params
                .iter()
                .find(|p| p["name"] == name && p["in"] == place)
                .cloned()
        };
        // Every `{x}` of the path is a required path parameter.
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            let p = param(name, "path").unwrap_or_else(|| panic!("{at}: no `{name}` parameter"));
            assert_eq!(p["required"], true, "{at}: {name}");
        }
        if *path == "/metrics" {
            // No merchant key: open, or the operator's metrics token when one is set.
            assert_eq!(
                op["security"],
                json!([{}, {"metrics_token": []}]),
                "{at}: security"
            );
            assert_eq!(
                responses["401"]["content"]["application/json"]["schema"]["$ref"], error_ref,
                "{at}: 401"
            );
            continue;
        }
        if !path.starts_with("/v1/") {
            // Ops and static files answer plain text or HTML, never the JSON error shape;
            // they document what they do answer, and need no key.
            assert_eq!(op["security"], json!([{}]), "{at}: security");
            continue;
        }
        // The API's errors: at least one 4xx, and every 4xx/5xx is the error shape.
        let errors: Vec<_> = responses
            .iter()
            .filter(|(s, _)| s.starts_with('4') || s.starts_with('5'))
            .collect();
        assert!(
            errors.iter().any(|(s, _)| s.starts_with('4')),
            "{at}: no 4xx response"
        );
        for (status, response) in errors {
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"], error_ref,
                "{at} {status}"
            );
            let description = response["description"].as_str().unwrap_or_default();
            assert!(
                description.contains('`'),
                "{at} {status}: the description should name the error codes: {description}"
            );
        }
        if is_merchant(path) {
            assert_eq!(
                op["security"],
                json!([{"secret_key": []}]),
                "{at}: security"
            );
            assert!(responses.contains_key("401"), "{at}: no 401");
            let key = param("Idempotency-Key", "header");
            if *method == "post" {
                let key = key.unwrap_or_else(|| panic!("{at}: no Idempotency-Key header"));
                assert_ne!(key["required"], true, "{at}: Idempotency-Key is optional");
                assert!(responses.contains_key("409"), "{at}: no 409 for key reuse");
                assert!(
                    responses["409"]["description"]
                        .as_str()
                        .unwrap()
                        .contains("idempotency_key_reused"),
                    "{at}"
                );
            } else {
                assert!(key.is_none(), "{at}: Idempotency-Key only applies to POSTs");
            }
        } else {
            // The frame's endpoints: the client secret instead of a secret key.
            assert_eq!(op["security"], json!([{}]), "{at}: security");
            let in_query = param("client_secret", "query").is_some_and(|p| p["required"] == true);
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            let in_body = body.is_object()
                && resolve(&doc, body)["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!("client_secret")));
            assert!(in_query || in_body, "{at}: client_secret not documented");
        }
    }
    assert!(
        doc["paths"]["/v1/payments"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "starting_after")
    );
    // Capture and refund take an optional body: absent, or an AmountBody (not `null`).
    for path in ["/v1/payments/{id}/capture", "/v1/payments/{id}/refunds"] {
        let body = &doc["paths"][path]["post"]["requestBody"];
        assert_ne!(body["required"], true, "{path}");
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/AmountBody",
            "{path}"
        );
    }
    for path in ["/v1/sessions", "/v1/frame/sessions/{id}/confirm"] {
        assert_eq!(
            doc["paths"][path]["post"]["requestBody"]["required"], true,
            "{path}"
        );
    }
    let scheme = &doc["components"]["securitySchemes"]["secret_key"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    // The stable codes the issue names are documented where they occur.
    let text = doc.to_string();
    for code in [
        "invalid_amount",
        "card_declined",
        "idempotency_key_reused",
        "invalid_client_secret",
        "resource_missing",
        "body_too_large",
        "livemode_unavailable",
    ] {
        assert!(text.contains(code), "{code} is not documented");
    }
}

#[tokio::test]
async fn components_hold_the_objects_and_every_reference_resolves() {
    let doc = document(&Gateway::start().await).await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "ErrorBody",
        "ErrorDetail",
        "Session",
        "CreateSession",
        "Payment",
        "PaymentList",
        "Refund",
        "AmountBody",
        "Envelope",
        "ConfirmRequest",
        "ConfirmResponse",
        "FrameSession",
        "EncryptionKey",
        "PaymentMethodView",
        "WebhookEndpoint",
        "WebhookEndpointList",
        "Event",
        "EventList",
        "WebhookDelivery",
        "WebhookAttempt",
    ] {
        assert!(schemas.contains_key(name), "no {name} schema");
    }
    fn walk(doc: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref") {
                    resolve(doc, value);
                    assert!(reference.as_str().is_some());
                }
                map.values().for_each(|v| walk(doc, v));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v)),
            _ => {}
        }
    }
    walk(&doc, &doc);
    // The API's nulls are documented as present and nullable, not as optional.
    for (schema, field) in [
        ("Session", "reference"),
        ("Payment", "decline_code"),
        ("Payment", "customer"),
        ("Payment", "session"),
    ] {
        let s = &schemas[schema];
        assert!(
            s["required"].as_array().unwrap().contains(&json!(field)),
            "{schema}.{field} should be required"
        );
        assert!(
            s["properties"][field]["type"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("null"))),
            "{schema}.{field} should be nullable: {}",
            s["properties"][field]
        );
    }
    // The confirm answer's payment is the payment object, always sent.
    let confirm = &schemas["ConfirmResponse"];
    assert_eq!(
        confirm["properties"]["payment"]["$ref"],
        "#/components/schemas/Payment"
    );
    assert!(
        confirm["required"]
            .as_array()
            .unwrap()
            .contains(&json!("payment"))
    );
}

/// What the API answers is what the document says, object by object.
#[tokio::test]
async fn real_responses_match_their_documented_schemas() {
    let gw = Gateway::start().await;
    let doc = document(&gw).await;
    let key = gw.merchant("Shop", &[SHOP]).await;

    let body = json!({"amount": 1999, "currency": "brl", "capture": "manual"});
    let (status, created) = gw.post_json("/v1/sessions", Some(&key), &body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    conforms(
        &doc,
        response_schema(&doc, "post", "/v1/sessions", 200),
        &created,
        "session",
    );
    assert!(created["reference"].is_null(), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();

    let (_, session) = gw.get(&format!("/v1/sessions/{id}"), Some(&key)).await;
    conforms(
        &doc,
        response_schema(&doc, "get", "/v1/sessions/{id}", 200),
        &session,
        "session",
    );

    let checkout = common::Checkout {
        id: id.clone(),
        client_secret: secret.clone(),
    };
    let (_, view) = gw.frame_view(&checkout, &secret).await;
    let schema = response_schema(&doc, "get", "/v1/frame/sessions/{id}", 200);
    conforms(&doc, schema, &view, "frame session");

    let encryption_key = gw.encryption_key(&checkout).await;
    let envelope = sealed(
        &encryption_key,
        &id,
        &card(common::PAN, 12, 2030, "123", gw.now()),
    );
    let request = json!({"client_secret": secret, "envelope": envelope});
    let schema = &doc["paths"]["/v1/frame/sessions/{id}/confirm"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    conforms(&doc, schema, &request, "confirm request");
    let (status, confirmed) = gw.confirm(&checkout, &envelope).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let schema = response_schema(&doc, "post", "/v1/frame/sessions/{id}/confirm", 200);
    conforms(&doc, schema, &confirmed, "confirm");
    assert!(confirmed["payment"]["decline_code"].is_null());
    assert!(confirmed["payment"]["customer"].is_null());
    let payment = confirmed["payment"]["id"].as_str().unwrap().to_owned();

    let (_, retrieved) = gw.get(&format!("/v1/payments/{payment}"), Some(&key)).await;
    let schema = response_schema(&doc, "get", "/v1/payments/{id}", 200);
    conforms(&doc, schema, &retrieved, "payment");

    let capture = format!("/v1/payments/{payment}/capture");
    let (status, captured) = gw.post_json(&capture, Some(&key), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    let schema = response_schema(&doc, "post", "/v1/payments/{id}/capture", 200);
    conforms(&doc, schema, &captured, "captured payment");

    let refunds = format!("/v1/payments/{payment}/refunds");
    let (status, refund) = gw
        .post_json(&refunds, Some(&key), &json!({"amount": 500}))
        .await;
    assert_eq!(status, StatusCode::OK, "{refund}");
    let schema = response_schema(&doc, "post", "/v1/payments/{id}/refunds", 200);
    conforms(&doc, schema, &refund, "refund");

    let (_, list) = gw.get("/v1/payments?limit=1", Some(&key)).await;
    conforms(
        &doc,
        response_schema(&doc, "get", "/v1/payments", 200),
        &list,
        "list",
    );
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");

    // Errors, including the declined card's `decline_code` and `payment`.
    for query in ["limit=0", "limit=abc"] {
        let (status, error) = gw.get(&format!("/v1/payments?{query}"), Some(&key)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        assert_eq!(error["error"]["code"], "invalid_limit", "{query}");
        conforms(
            &doc,
            response_schema(&doc, "get", "/v1/payments", 400),
            &error,
            "error",
        );
    }
    let (status, error) = gw.get("/v1/payments", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    conforms(
        &doc,
        response_schema(&doc, "get", "/v1/payments", 401),
        &error,
        "error",
    );
    let (status, error) = gw
        .post_json(
            "/v1/sessions",
            Some(&key),
            &json!({"amount": 0, "currency": "brl"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    conforms(
        &doc,
        response_schema(&doc, "post", "/v1/sessions", 400),
        &error,
        "error",
    );
    let declined = gw.create_session(&key).await;
    let envelope = sealed(
        &gw.encryption_key(&declined).await,
        &declined.id,
        &card("4000000000000002", 12, 2030, "123", gw.now()),
    );
    let (status, error) = gw.confirm(&declined, &envelope).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{error}");
    let schema = response_schema(&doc, "post", "/v1/frame/sessions/{id}/confirm", 402);
    conforms(&doc, schema, &error, "declined");
    assert!(error["error"]["payment"].is_string(), "{error}");
}

/// The customer endpoints' answers match their documented schemas too.
#[tokio::test]
async fn customer_responses_match_their_documented_schemas() {
    let gw = Gateway::start().await;
    let doc = document(&gw).await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let check = |method: &str, path: &str, status: u16, value: &Value| {
        conforms(
            &doc,
            response_schema(&doc, method, path, status),
            value,
            path,
        );
    };

    let body = json!({"name": "Ana", "email": "ana@example.com", "address": {"country": "BR"}, "metadata": {"k": "v"}});
    let (status, customer) = gw.post_json("/v1/customers", Some(&key), &body).await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    check("post", "/v1/customers", 200, &customer);
    let id = customer["id"].as_str().unwrap().to_owned();
    let (_, fetched) = gw.get(&format!("/v1/customers/{id}"), Some(&key)).await;
    check("get", "/v1/customers/{id}", 200, &fetched);
    let (_, updated) = gw
        .post_json(
            &format!("/v1/customers/{id}"),
            Some(&key),
            &json!({"phone": "+351 912 345 678"}),
        )
        .await;
    check("post", "/v1/customers/{id}", 200, &updated);
    let (_, list) = gw.get("/v1/customers", Some(&key)).await;
    check("get", "/v1/customers", 200, &list);
    let (status, error) = gw
        .post_json("/v1/customers", Some(&key), &json!({"email": "x"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    check("post", "/v1/customers", 400, &error);

    let session =
        json!({"amount": 1999, "currency": "brl", "customer": id, "save_payment_method": true});
    let (_, created) = gw.post_json("/v1/sessions", Some(&key), &session).await;
    check("post", "/v1/sessions", 200, &created);
    let checkout = common::Checkout {
        id: created["id"].as_str().unwrap().to_owned(),
        client_secret: created["client_secret"].as_str().unwrap().to_owned(),
    };
    let envelope = sealed(
        &gw.encryption_key(&checkout).await,
        &checkout.id,
        &card(common::PAN, 12, 2030, "123", gw.now()),
    );
    let (status, confirmed) = gw.confirm(&checkout, &envelope).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    check("post", "/v1/frame/sessions/{id}/confirm", 200, &confirmed);
    let pm = confirmed["payment"]["payment_method_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, methods) = gw
        .get(&format!("/v1/customers/{id}/payment_methods"), Some(&key))
        .await;
    check("get", "/v1/customers/{id}/payment_methods", 200, &methods);

    let charge = json!({"amount": 500, "currency": "brl", "customer": id, "payment_method": pm});
    let (status, payment) = gw.post_json("/v1/payments", Some(&key), &charge).await;
    assert_eq!(status, StatusCode::OK, "{payment}");
    check("post", "/v1/payments", 200, &payment);
    let (_, history) = gw
        .get(&format!("/v1/customers/{id}/transactions"), Some(&key))
        .await;
    check("get", "/v1/customers/{id}/transactions", 200, &history);
    let (_, export) = gw
        .get(&format!("/v1/customers/{id}/export"), Some(&key))
        .await;
    check("get", "/v1/customers/{id}/export", 200, &export);
    let (_, log) = gw.get("/v1/audit_log", Some(&key)).await;
    check("get", "/v1/audit_log", 200, &log);
    let (_, detached) = gw
        .post_json(
            &format!("/v1/payment_methods/{pm}/detach"),
            Some(&key),
            &json!({}),
        )
        .await;
    check("post", "/v1/payment_methods/{id}/detach", 200, &detached);
    let (status, refused) = gw.post_json("/v1/payments", Some(&key), &charge).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    check("post", "/v1/payments", 400, &refused);

    let request = Request::builder()
        .method(Method::DELETE)
        .uri(format!("/v1/customers/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    let (status, erased) = gw.call(request).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    let erased: Value = serde_json::from_str(&erased).unwrap();
    check("delete", "/v1/customers/{id}", 200, &erased);
    let (_, export) = gw
        .get(&format!("/v1/customers/{id}/export"), Some(&key))
        .await;
    check("get", "/v1/customers/{id}/export", 200, &export);
}
