//! The OpenAPI document at `/v1/openapi.json` describes what the server
//! really answers: every route of a session's life is called (good and
//! bad requests), and each response's status must be documented for its
//! route and its body must validate against the documented schema
//! (JSON Schema 2020-12).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

struct Checker {
    doc: Value,
    base: String,
    http: reqwest::Client,
    checked: usize,
}

impl Checker {
    /// Calls `method path` with `body`, checks the answer against the
    /// document's entry for `route` (the path template), returns it.
    async fn call(
        &mut self,
        method: &str,
        route: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.parse().unwrap(), &url);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let (status, json) = send(req).await;
        self.check(method, route, status, &json);
        (status, json)
    }

    /// [`Checker::call`], which must answer `status`; returns the body.
    async fn expect(
        &mut self,
        status: u16,
        method: &str,
        route: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (got, json) = self.call(method, route, path, body).await;
        assert_eq!(got, status, "{method} {path}: {json}");
        json
    }

    /// Sends a raw body (to get a 400 for JSON that does not parse).
    async fn call_raw(
        &mut self,
        method: &str,
        route: &str,
        path: &str,
        body: &str,
    ) -> (u16, Value) {
        let req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        let (status, json) = send(req).await;
        self.check(method, route, status, &json);
        (status, json)
    }

    fn check(&mut self, method: &str, route: &str, status: u16, body: &Value) {
        let errors = self.violations(method, route, status, body);
        assert!(
            errors.is_empty(),
            "{method} {route} {status}: the body does not match the document: {errors:#?}\n{body}"
        );
        self.checked += 1;
    }

    /// How `body` differs from what the document says `method route`
    /// answers with `status`.
    fn violations(&self, method: &str, route: &str, status: u16, body: &Value) -> Vec<String> {
        let op = &self.doc["paths"][route][method.to_lowercase()];
        assert!(op.is_object(), "{method} {route} is not documented");
        let response = &op["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {route} answered {status}, which is not documented: {body}"
        );
        let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
            return Vec::new();
        };
        // The schema refers into the document's components: validate
        // with them at hand.
        let mut root = Value::Object(schema.clone());
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::validator_for(&root)
            .unwrap_or_else(|e| panic!("{method} {route}: the schema does not compile: {e}"));
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_match_the_openapi_document() {
    let room = TestRoom::start(&[("o", 0), ("o", 1)]).await;
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let (status, doc) = send(http.get(format!("{}/v1/openapi.json", serve.url))).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let dir = tempfile::tempdir().unwrap();
    let mut c = Checker {
        doc,
        base: serve.url.clone(),
        http,
        checked: 0,
    };

    c.call("GET", "/healthz", "/healthz", None).await;
    c.call("GET", "/v1/sessions", "/v1/sessions", None).await;
    // Bad requests: JSON that does not parse, an unknown field, a bad value.
    let (status, _) = c
        .call_raw("POST", "/v1/sessions", "/v1/sessions", "{")
        .await;
    assert_eq!(status, 400);
    let room_json = json!({"adapter": "callcast", "url": room.url(), "room": "o"});
    c.expect(
        422,
        "POST",
        "/v1/sessions",
        "/v1/sessions",
        Some(json!({"room": room_json, "colour": 1})),
    )
    .await;
    c.expect(
        422,
        "POST",
        "/v1/sessions",
        "/v1/sessions",
        Some(json!({"room": room_json, "layout": {"gap": -1}})),
    )
    .await;
    let created = c
        .expect(
            201,
            "POST",
            "/v1/sessions",
            "/v1/sessions",
            Some(json!({"room": room_json, "layout": {"kind": "grid", "labels": true}})),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let s = format!("/v1/sessions/{id}");
    wait_for(
        "both participants shown",
        Duration::from_secs(20),
        async || {
            let (_, info) = send(c.http.get(format!("{}{s}", c.base))).await;
            info["layout"]["tiles"]
                .as_array()
                .is_some_and(|t| t.len() == 2)
                && info["roster"][1]["tracks"]
                    .as_array()
                    .is_some_and(|t| t.len() == 2)
        },
    )
    .await;

    c.call("GET", "/v1/sessions", "/v1/sessions", None).await;
    let (_, info) = c.call("GET", "/v1/sessions/{id}", &s, None).await;
    // The check has teeth: a body of the wrong shape is caught.
    let mut wrong = info.clone();
    wrong["roster"][0]["talking"] = json!("yes");
    wrong.as_object_mut().unwrap().remove("layout");
    assert_eq!(
        c.violations("GET", "/v1/sessions/{id}", 200, &wrong).len(),
        2,
        "{wrong}"
    );
    let someone = info["roster"][0]["id"].as_str().unwrap().to_string();
    c.call("GET", "/v1/sessions/{id}", "/v1/sessions/nope", None)
        .await;
    c.call(
        "GET",
        "/v1/sessions/{id}/stats",
        &format!("{s}/stats"),
        None,
    )
    .await;

    // Layouts.
    let layout = format!("{s}/layout");
    c.call("GET", "/v1/sessions/{id}/layout", &layout, None)
        .await;
    c.expect(
        200,
        "PUT",
        "/v1/sessions/{id}/layout",
        &layout,
        Some(json!({"kind": "speaker", "filmstrip": "side", "corner_radius": 12})),
    )
    .await;
    c.expect(200, "PUT", "/v1/sessions/{id}/layout", &layout, Some(json!({"kind": "custom", "slots": [{"x": 0, "y": 0, "width": 0.5, "height": 1, "name": "A*"}]}))).await;
    c.expect(
        422,
        "PUT",
        "/v1/sessions/{id}/layout",
        &layout,
        Some(json!({"kind": "nope"})),
    )
    .await;
    let pin = format!("{s}/layout/pin");
    c.expect(
        200,
        "POST",
        "/v1/sessions/{id}/layout/pin",
        &pin,
        Some(json!({"participant": someone})),
    )
    .await;
    c.expect(
        422,
        "POST",
        "/v1/sessions/{id}/layout/pin",
        &pin,
        Some(json!({"participant": "nobody"})),
    )
    .await;
    c.call(
        "POST",
        "/v1/sessions/{id}/layout/pin",
        &pin,
        Some(json!({"participant": null})),
    )
    .await;

    // Outputs.
    let outputs = format!("{s}/outputs");
    let mp4 = dir.path().join("o.mp4");
    let out = c
        .expect(
            201,
            "POST",
            "/v1/sessions/{id}/outputs",
            &outputs,
            Some(json!({"kind": "record", "location": format!("file://{}", mp4.display())})),
        )
        .await;
    c.expect(
        422,
        "POST",
        "/v1/sessions/{id}/outputs",
        &outputs,
        Some(json!({"kind": "rtmp", "urls": ["http://x/y"]})),
    )
    .await;
    c.expect(
        422,
        "POST",
        "/v1/sessions/{id}/outputs",
        &outputs,
        Some(json!({"kind": "carrier-pigeon"})),
    )
    .await;
    let one = format!("{outputs}/{}", out["id"].as_str().unwrap());
    wait_for("the recording live", Duration::from_secs(20), async || {
        live(&send(c.http.get(format!("{}{one}", c.base))).await.1)
    })
    .await;
    c.call("GET", "/v1/sessions/{id}/outputs", &outputs, None)
        .await;
    c.call("GET", "/v1/sessions/{id}/outputs/{oid}", &one, None)
        .await;
    // A recording has no URLs to change.
    c.expect(
        422,
        "PATCH",
        "/v1/sessions/{id}/outputs/{oid}",
        &one,
        Some(json!({"urls": ["rtmp://127.0.0.1:1/live/k"]})),
    )
    .await;
    c.call(
        "GET",
        "/v1/sessions/{id}/stats",
        &format!("{s}/stats"),
        None,
    )
    .await;
    c.expect(200, "DELETE", "/v1/sessions/{id}/outputs/{oid}", &one, None)
        .await;
    c.call("DELETE", "/v1/sessions/{id}/outputs/{oid}", &one, None)
        .await;
    c.call(
        "GET",
        "/v1/sessions/{id}/graph",
        &format!("{s}/graph?format=gif"),
        None,
    )
    .await;

    c.expect(200, "DELETE", "/v1/sessions/{id}", &s, None).await;
    assert!(c.checked >= 25, "{} responses checked", c.checked);
    room.stop().await;
}
