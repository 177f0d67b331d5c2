//! Internally tagged JSON objects (`{"kind": "record", ...}`) whose errors
//! still name the field at fault.
//!
//! serde parses an internally tagged enum from a buffered copy of the
//! object, which loses the path to the field. Here the object is turned
//! into the externally tagged form (`{"record": {...}}`), which parses
//! without buffering, and the error's field path travels to the API in the
//! message: ``field `s3.bucket`: unknown field ...``.

use serde::de::Error as _;
use serde_json::{Map, Value};

/// Parses the object that `de` holds, tagged by its field `tag`, with
/// `parse`: the enum's own deserializer for the externally tagged form
/// (`#[serde(remote = "Self")]` gives one beside a hand-written
/// `Deserialize`).
pub fn deserialize<'de, D, T>(
    de: D,
    tag: &str,
    parse: impl FnOnce(serde_path_to_error::Deserializer<'_, '_, Value>) -> Result<T, serde_json::Error>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let mut object = <Map<String, Value> as serde::Deserialize>::deserialize(de)?;
    let kind = match object.remove(tag) {
        Some(Value::String(kind)) => kind,
        Some(_) => return Err(nested(tag, "must be a string")),
        None => return Err(nested(tag, "missing")),
    };
    let tagged = Value::Object(Map::from_iter([(kind, Value::Object(object))]));
    let mut track = serde_path_to_error::Track::new();
    parse(serde_path_to_error::Deserializer::new(tagged, &mut track)).map_err(|e| {
        let path = track.path().to_string();
        let message = e.to_string();
        // The first segment is the kind: an error there is about the kind.
        match path.split_once('.') {
            Some((_, rest)) if !rest.is_empty() => {
                let field = with_unknown_field(rest, &message);
                nested(&field, &message)
            }
            _ if message.starts_with("unknown variant") => nested(tag, &message),
            _ => D::Error::custom(message),
        }
    })
}

/// `path`, ending in the unknown field that `message` names if it does
/// not already: serde reports an unknown field at its parent.
pub fn with_unknown_field(path: &str, message: &str) -> String {
    match message
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next())
    {
        Some(name) if !path.ends_with(name) => {
            if path.is_empty() || path == "." {
                name.to_string()
            } else {
                format!("{path}.{name}")
            }
        }
        _ => path.to_string(),
    }
}

/// An error about `field` inside a tagged object.
fn nested<E: serde::de::Error>(field: &str, message: &str) -> E {
    E::custom(format!("field `{field}`: {message}"))
}

/// The field path and message of an error from [`deserialize`].
pub fn split(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("field `")?;
    let (field, rest) = rest.split_once('`')?;
    Some((field, rest.strip_prefix(": ").unwrap_or(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
    enum Shape {
        Circle { radius: u32 },
        Box { size: Size },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Size {
        w: u32,
    }

    impl<'de> Deserialize<'de> for Shape {
        fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
            deserialize(de, "kind", |d| Shape::deserialize(d))
        }
    }

    fn error(json: &str) -> (String, String) {
        let e = serde_json::from_str::<Shape>(json).unwrap_err().to_string();
        let (f, m) = split(&e).unwrap_or_else(|| panic!("no field in {e}"));
        (f.to_string(), m.to_string())
    }

    #[test]
    fn tagged_objects_parse() {
        assert_eq!(
            serde_json::from_str::<Shape>(r#"{"radius": 2, "kind": "circle"}"#).unwrap(),
            Shape::Circle { radius: 2 }
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(error(r#"{"kind": "circle", "radius": "2"}"#).0, "radius");
        assert_eq!(error(r#"{"kind": "circle", "r": 2}"#).0, "r");
        assert_eq!(
            error(r#"{"kind": "box", "size": {"w": 1, "h": 2}}"#).0,
            "size.h"
        );
        assert_eq!(error(r#"{"kind": "box", "size": {"w": -1}}"#).0, "size.w");
        assert_eq!(error(r#"{"kind": "square"}"#).0, "kind");
        assert_eq!(error(r#"{"kind": 1}"#).0, "kind");
        assert_eq!(error(r#"{"radius": 1}"#), ("kind".into(), "missing".into()));
    }
}
