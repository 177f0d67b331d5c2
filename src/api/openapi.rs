//! The OpenAPI 3.1 document of the HTTP API, served at
//! `/v1/openapi.json`. The schemas come from the Rust types the handlers
//! take and return (schemars derives, which read their serde
//! attributes), so the document cannot drift from what goes over the
//! wire; the routes are listed here, beside the router, one line each.

use std::sync::OnceLock;

use axum::Json;
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::auth::ViewerToken;
use super::error::ErrorBody;
use super::outputs::{OutputList, OutputPatch};
use super::recordings::InterruptedList;
use super::sessions::{CreateSession, SessionList, Stopped};
use crate::media::layout::LayoutConfig;
use crate::media::outputs::{OutputSpec, OutputStatus};
use crate::session::{LayoutView, SessionInfo, SessionStats};

/// What a route takes in its body.
enum Takes {
    Nothing,
    Json(Value),
    Sdp,
}

/// What a route answers with, for one status.
enum Gives {
    Json(Value),
    /// A body of this media type that is not JSON.
    Other(&'static str),
    Nothing,
}

struct Route {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    takes: Takes,
    /// The success status and what it gives.
    ok: (u16, Gives),
    /// Statuses that come with the API's JSON error body.
    errors: &'static [u16],
}

/// Response schemas: what the server writes (serialize contract), as
/// references into `components.schemas`.
struct Schemas {
    responses: SchemaGenerator,
    requests: SchemaGenerator,
}

impl Schemas {
    fn new() -> Self {
        let settings = |contract| {
            let mut s = SchemaSettings::draft2020_12();
            s.definitions_path = "/components/schemas".into();
            s.contract = contract;
            s
        };
        let mut requests = settings(Contract::Deserialize);
        // Request bodies are inlined: their deserialize-side schemas may
        // differ from the response-side ones of the same type.
        requests.inline_subschemas = true;
        Schemas {
            responses: settings(Contract::Serialize).into_generator(),
            requests: requests.into_generator(),
        }
    }

    /// A reference to `T`'s response schema.
    fn schema<T: JsonSchema>(&mut self) -> Value {
        self.responses.subschema_for::<T>().to_value()
    }

    fn out<T: JsonSchema>(&mut self) -> Gives {
        Gives::Json(self.schema::<T>())
    }

    fn takes<T: JsonSchema>(&mut self) -> Takes {
        Takes::Json(self.requests.root_schema_for::<T>().to_value())
    }
}

fn routes(s: &mut Schemas) -> Vec<Route> {
    use Gives::Other;
    use Takes::{Nothing, Sdp};
    let route = |method, path, summary, takes, ok, errors| Route {
        method,
        path,
        summary,
        takes,
        ok,
        errors,
    };
    let ok_status = json!({"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]});
    vec![
        route(
            "get",
            "/healthz",
            "Liveness",
            Nothing,
            (200, Gives::Json(ok_status)),
            &[],
        ),
        route(
            "get",
            "/metrics",
            "Every session's figures in the Prometheus text format",
            Nothing,
            (200, Other("text/plain")),
            &[],
        ),
        route(
            "get",
            "/v1/openapi.json",
            "This document",
            Nothing,
            (200, Gives::Json(json!({"type": "object"}))),
            &[],
        ),
        route(
            "get",
            "/v1/events",
            "Server-sent events: `update` with the sessions list every 2 s",
            Nothing,
            (200, Other("text/event-stream")),
            &[],
        ),
        route(
            "get",
            "/v1/sessions",
            "The sessions",
            Nothing,
            (200, s.out::<SessionList>()),
            &[],
        ),
        route(
            "post",
            "/v1/sessions",
            "Start a session",
            s.takes::<CreateSession>(),
            (201, s.out::<SessionInfo>()),
            &[400, 422, 503],
        ),
        route(
            "get",
            "/v1/sessions/{id}",
            "A session: state, roster, layout, peers, outputs, program",
            Nothing,
            (200, s.out::<SessionInfo>()),
            &[404],
        ),
        route(
            "delete",
            "/v1/sessions/{id}",
            "Leave the room, finalize the outputs, stop",
            Nothing,
            (200, s.out::<Stopped>()),
            &[404],
        ),
        route(
            "get",
            "/v1/sessions/{id}/events",
            "Server-sent events: `update` with the session and its stats every second; `gone` at its end",
            Nothing,
            (200, Other("text/event-stream")),
            &[404],
        ),
        route(
            "get",
            "/v1/sessions/{id}/stats",
            "The session's health figures",
            Nothing,
            (200, s.out::<SessionStats>()),
            &[404],
        ),
        route(
            "get",
            "/v1/sessions/{id}/graph",
            "The live pipeline: `?format=dot` (default) or `svg`",
            Nothing,
            (200, Other("text/vnd.graphviz")),
            &[404, 422],
        ),
        route(
            "get",
            "/v1/sessions/{id}/layout",
            "The layout in use and every tile",
            Nothing,
            (200, s.out::<LayoutView>()),
            &[404],
        ),
        route(
            "put",
            "/v1/sessions/{id}/layout",
            "A new layout",
            s.takes::<LayoutConfig>(),
            (200, s.out::<LayoutView>()),
            &[400, 404, 422],
        ),
        route(
            "post",
            "/v1/sessions/{id}/layout/pin",
            "Feature a participant (`null` unpins)",
            s.takes::<super::layout::Pin>(),
            (200, s.out::<LayoutView>()),
            &[400, 404, 422],
        ),
        route(
            "get",
            "/v1/sessions/{id}/outputs",
            "The outputs with their state",
            Nothing,
            (200, s.out::<OutputList>()),
            &[404],
        ),
        route(
            "post",
            "/v1/sessions/{id}/outputs",
            "Add an output to the running program",
            s.takes::<OutputSpec>(),
            (201, s.out::<OutputStatus>()),
            &[400, 404, 422],
        ),
        route(
            "get",
            "/v1/sessions/{id}/outputs/{oid}",
            "One output",
            Nothing,
            (200, s.out::<OutputStatus>()),
            &[404],
        ),
        route(
            "patch",
            "/v1/sessions/{id}/outputs/{oid}",
            "RTMP: a new URL list",
            s.takes::<OutputPatch>(),
            (200, s.out::<OutputStatus>()),
            &[400, 404, 422],
        ),
        route(
            "delete",
            "/v1/sessions/{id}/outputs/{oid}",
            "Finalize and remove an output",
            Nothing,
            (200, s.out::<OutputStatus>()),
            &[404],
        ),
        route(
            "post",
            "/v1/sessions/{id}/whep-token",
            "A short-lived token for this session's WHEP routes only",
            Nothing,
            (200, s.out::<ViewerToken>()),
            &[404],
        ),
        route(
            "post",
            "/v1/sessions/{id}/whep",
            "WHEP: a viewer's SDP offer in, the answer out",
            Sdp,
            (201, Other("application/sdp")),
            &[404, 415, 422, 429],
        ),
        route(
            "delete",
            "/v1/sessions/{id}/whep/{viewer}",
            "End a WHEP viewer",
            Nothing,
            (200, Gives::Nothing),
            &[404],
        ),
        route(
            "get",
            "/v1/recordings/interrupted",
            "Recordings cut off by a crash of an earlier run, with how to recover each",
            Nothing,
            (200, s.out::<InterruptedList>()),
            &[],
        ),
        route(
            "delete",
            "/v1/recordings/interrupted/{id}",
            "Dismiss an interrupted recording once dealt with",
            Nothing,
            (204, Gives::Nothing),
            &[404],
        ),
    ]
}

fn media(kind: &str, schema: Value) -> Value {
    json!({ kind: { "schema": schema } })
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut schemas = Schemas::new();
        let error = schemas.schema::<ErrorBody>();
        let mut paths = Map::new();
        for r in routes(&mut schemas) {
            let mut op = Map::new();
            op.insert("summary".into(), r.summary.into());
            let params: Vec<Value> = r
                .path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            if !params.is_empty() {
                op.insert("parameters".into(), params.into());
            }
            let has_body = !matches!(r.takes, Takes::Nothing);
            match r.takes {
                Takes::Nothing => {}
                Takes::Json(schema) => {
                    op.insert("requestBody".into(), json!({"required": true, "content": media("application/json", schema)}));
                }
                Takes::Sdp => {
                    op.insert("requestBody".into(), json!({"required": true, "content": media("application/sdp", json!({"type": "string"}))}));
                }
            }
            // Every route but /healthz needs a token when tokens are set;
            // every body has a size limit.
            let open = r.path == "/healthz";
            if open {
                op.insert("security".into(), json!([]));
            }
            let common = [(!open).then_some(401), has_body.then_some(413)];
            let mut responses = Map::new();
            let errors = (r.errors.iter().copied())
                .chain(common.into_iter().flatten())
                .map(|e| (e, Gives::Json(error.clone())));
            for (status, gives) in std::iter::once(r.ok).chain(errors) {
                let mut resp = Map::new();
                resp.insert("description".into(), status_text(status).into());
                match gives {
                    Gives::Json(schema) => {
                        resp.insert("content".into(), media("application/json", schema));
                    }
                    Gives::Other(kind) => {
                        resp.insert("content".into(), media(kind, json!({"type": "string"})));
                    }
                    Gives::Nothing => {}
                }
                responses.insert(status.to_string(), resp.into());
            }
            op.insert("responses".into(), responses.into());
            let entry = paths
                .entry(r.path.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            entry[r.method] = op.into();
        }
        let components: Map<String, Value> = schemas
            .responses
            .take_definitions(true)
            .into_iter()
            .collect();
        json!({
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "info": {
                "title": "callcast",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Records and live-streams video calls: sessions, layouts, outputs, health and a WHEP preview."
            },
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {
                    "token": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API token (CALLCAST_API_TOKEN); on a session's WHEP routes, also one of its viewer tokens. Needed only when the server has tokens."
                    }
                }
            },
            "security": [{ "token": [] }],
        })
    })
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "The body is not JSON",
        404 => "No such session, output or route",
        401 => "No token, or not one good for this route",
        413 => "The body is over 64 KiB",
        415 => "The body is not of the type the route takes",
        422 => "A field is wrong: the error names it",
        429 => "Too many viewers",
        503 => "The server is shutting down",
        _ => "",
    }
}

pub async fn serve() -> Json<&'static Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_every_route_answers_something() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        assert!(schemas.contains_key("SessionInfo") && schemas.contains_key("ErrorBody"));
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling reference to {name}");
        }
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                assert!(
                    !op["responses"].as_object().unwrap().is_empty(),
                    "{method} {path}"
                );
            }
        }
        // The tagged output object is described as it goes over the wire.
        let post = &doc["paths"]["/v1/sessions/{id}/outputs"]["post"];
        let body = post["requestBody"]["content"]["application/json"]["schema"].to_string();
        assert!(
            body.contains("\"kind\"") && body.contains("\"rtmp\""),
            "{body}"
        );
    }
}
