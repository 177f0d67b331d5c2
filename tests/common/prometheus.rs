//! A strict reader of the Prometheus text format (0.0.4), for checking
//! what `/metrics` serves: every sample belongs to a family declared
//! with HELP and TYPE before it, names and labels are well formed, label
//! values are properly escaped, and every value is a number.

use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct Scrape {
    /// Family name to its type (counter, gauge).
    pub types: HashMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// Samples of `name` whose labels include every one of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The one sample of `name` with `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.find(name, labels);
        assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
        found[0].value
    }
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `text`, panicking with the offending line on any error.
pub fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    let mut helped = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let fail = |why: &str| -> ! { panic!("line {}: {why}: {line:?}", n + 1) };
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest
                .split_once(' ')
                .unwrap_or_else(|| fail("HELP without text"));
            if !valid_name(name) || helped.insert(name.to_string(), ()).is_some() {
                fail("bad or repeated HELP");
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .unwrap_or_else(|| fail("TYPE without kind"));
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                fail("unknown type");
            }
            if scrape
                .types
                .insert(name.to_string(), kind.to_string())
                .is_some()
            {
                fail("repeated TYPE");
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| fail("no value"));
        let name = &line[..name_end];
        if !valid_name(name) {
            fail("bad metric name");
        }
        if !scrape.types.contains_key(name) || !helped.contains_key(name) {
            fail("sample before its family's HELP and TYPE");
        }
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(mut inner) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = inner.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let (key, after) = inner.split_once("=\"").unwrap_or_else(|| fail("bad label"));
                if !valid_name(key) || key.starts_with("__") {
                    fail("bad label name");
                }
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            _ => fail("bad escape"),
                        },
                        Some((i, '"')) => break i,
                        Some((_, c)) => value.push(c),
                        None => fail("unterminated label value"),
                    }
                };
                if labels.insert(key.to_string(), value).is_some() {
                    fail("repeated label");
                }
                inner = &after[end + 1..];
                inner = inner.strip_prefix(',').unwrap_or(inner);
            }
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| fail("no space before the value"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| fail("value is not a number")),
        };
        let sample = Sample {
            name: name.to_string(),
            labels,
            value,
        };
        if scrape
            .samples
            .iter()
            .any(|s| s.name == sample.name && s.labels == sample.labels)
        {
            fail("repeated series");
        }
        scrape.samples.push(sample);
    }
    scrape
}
