//! Where an output writes: a `file://` path or an `s3://bucket/key`,
//! with `{session}`, `{start}` and `{part}` filled in. Pure rules, no
//! GStreamer.

use std::path::PathBuf;

/// A parsed location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

/// What a location template may name.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    /// The session id.
    pub session: &'a str,
    /// When the output started, as `20261126T141500Z`.
    pub start: &'a str,
    /// Which part of a split recording, from 1; `None` where an output
    /// has no parts (HLS).
    pub part: Option<u32>,
}

impl Names<'static> {
    /// Stand-ins, to check a template before there is a session.
    pub const EXAMPLE: Names<'static> = Names {
        session: "session",
        start: "20260101T000000Z",
        part: None,
    };
}

/// Replaces `{session}`, `{start}` and `{part}` (three digits or more:
/// `001`); any other `{...}` is an error, so that a typo does not silently
/// become part of a file name.
pub fn expand(template: &str, names: Names) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').ok_or("has an unclosed {")?;
        match &rest[open + 1..open + close] {
            "session" => out.push_str(names.session),
            "start" => out.push_str(names.start),
            "part" => match names.part {
                Some(n) => out.push_str(&format!("{n:03}")),
                None => return Err("names {part}, which only a recording has".into()),
            },
            other => return Err(format!("names an unknown placeholder {{{other}}}")),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The template for the parts of a split recording: as given if it names
/// `{part}`, else with `-{part}` before the file's extension
/// (`rec.mp4` -> `rec-{part}.mp4`), so that parts never overwrite each
/// other.
pub fn with_part(template: &str) -> String {
    if template.contains("{part}") {
        return template.to_string();
    }
    let name_at = template.rfind('/').map_or(0, |i| i + 1);
    match template[name_at..].rfind('.') {
        Some(dot) if dot > 0 => {
            let dot = name_at + dot;
            format!("{}-{{part}}{}", &template[..dot], &template[dot..])
        }
        _ => format!("{template}-{{part}}"),
    }
}

/// Parses `file:///absolute/path` or `s3://bucket/key`. `dir` says the
/// location names a directory (it must end in `/`) rather than a file.
pub fn parse(location: &str, dir: bool) -> Result<Location, String> {
    if let Some(path) = location.strip_prefix("file://") {
        let p = PathBuf::from(path);
        if !p.is_absolute() {
            return Err("must be file:///absolute/path".into());
        }
        if dir != path.ends_with('/') {
            return Err(if dir {
                "must name a directory, ending in /".into()
            } else {
                "must name a file, not a directory".into()
            });
        }
        return Ok(Location::File(p));
    }
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket)?;
        if key.is_empty() && !dir {
            return Err("must name an object: s3://bucket/key".into());
        }
        if dir && !(key.is_empty() || key.ends_with('/')) {
            return Err("must name a prefix, ending in /".into());
        }
        if key.split('/').any(|part| part == "." || part == "..") {
            return Err("must not contain . or .. segments".into());
        }
        return Ok(Location::S3 {
            bucket: bucket.into(),
            key: key.into(),
        });
    }
    Err("must start with file:// or s3://".into())
}

/// S3 bucket naming rules: 3 to 63 of a-z, 0-9, '-' and '.', starting and
/// ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("must name a bucket: s3://bucket/...".into());
    }
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !(3..=63).contains(&bucket.len())
        || !ok_chars
        || !ends(bucket.bytes().next())
        || !ends(bucket.bytes().last())
    {
        return Err(format!("{bucket:?} is not a valid bucket name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: Names = Names {
        session: "s-1",
        start: "20261126T141500Z",
        part: None,
    };

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            expand("s3://b/rec/{session}-{start}.mp4", NAMES).unwrap(),
            "s3://b/rec/s-1-20261126T141500Z.mp4"
        );
        assert_eq!(expand("file:///x.mp4", NAMES).unwrap(), "file:///x.mp4");
        assert!(expand("file:///{sesion}.mp4", NAMES).is_err());
        assert!(expand("file:///{session.mp4", NAMES).is_err());
        assert!(expand("file:///{part}.mp4", NAMES).is_err());
        let part = |n| Names {
            part: Some(n),
            ..NAMES
        };
        assert_eq!(
            expand("s3://b/{session}-{part}.mp4", part(7)).unwrap(),
            "s3://b/s-1-007.mp4"
        );
        assert_eq!(
            expand("file:///{part}", part(1234)).unwrap(),
            "file:///1234"
        );
    }

    #[test]
    fn parts_get_their_number_in_the_name() {
        assert_eq!(with_part("s3://b/r/{part}/a.mp4"), "s3://b/r/{part}/a.mp4");
        assert_eq!(with_part("s3://b/r.x/a.mp4"), "s3://b/r.x/a-{part}.mp4");
        assert_eq!(
            with_part("file:///r/{session}"),
            "file:///r/{session}-{part}"
        );
        assert_eq!(with_part("file:///r/.mp4"), "file:///r/.mp4-{part}");
        assert_eq!(with_part("file:///r/a.b.mp4"), "file:///r/a.b-{part}.mp4");
    }

    #[test]
    fn files_and_objects_are_parsed() {
        assert_eq!(
            parse("file:///tmp/a.mp4", false).unwrap(),
            Location::File("/tmp/a.mp4".into())
        );
        assert_eq!(
            parse("s3://my-bucket/rec/a.mp4", false).unwrap(),
            Location::S3 {
                bucket: "my-bucket".into(),
                key: "rec/a.mp4".into()
            }
        );
        assert_eq!(
            parse("s3://my-bucket/hls/", true).unwrap(),
            Location::S3 {
                bucket: "my-bucket".into(),
                key: "hls/".into()
            }
        );
        for bad in [
            "rel.mp4",
            "file://rel.mp4",
            "file:///tmp/dir/",
            "s3://",
            "s3:///key.mp4",
            "s3://Bad_Bucket/k.mp4",
            "s3://ab/k.mp4",
            "s3://bucket",
            "s3://bucket/",
            "s3://bucket/../k.mp4",
            "http://x/y.mp4",
        ] {
            assert!(parse(bad, false).is_err(), "{bad} was accepted");
        }
        assert!(parse("file:///tmp/hls", true).is_err());
        assert!(parse("s3://bucket/hls", true).is_err());
        assert!(parse("s3://bucket", true).is_ok());
    }
}
