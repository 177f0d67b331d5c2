//! The Prometheus text exposition format (version 0.0.4): families with
//! their HELP and TYPE, samples with escaped labels.

use std::fmt::Write;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
}

struct Family {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// Samples grouped by family, in the order families are first used.
#[derive(Default)]
pub struct Exposition {
    families: Vec<Family>,
}

impl Exposition {
    /// Adds one sample of `name`; `kind` and `help` describe the family.
    pub fn add(
        &mut self,
        name: &'static str,
        kind: Kind,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let family = match self.families.iter().position(|f| f.name == name) {
            Some(i) => &mut self.families[i],
            None => {
                self.families.push(Family {
                    name,
                    kind,
                    help,
                    samples: Vec::new(),
                });
                self.families.last_mut().expect("just pushed")
            }
        };
        family.samples.push((label_set(labels), value));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let kind = match f.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
            let _ = writeln!(out, "# TYPE {} {kind}", f.name);
            for (labels, value) in &f.samples {
                let _ = writeln!(out, "{}{labels} {}", f.name, number(*value));
            }
        }
        out
    }
}

fn label_set(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_samples_under_one_header_and_escapes_labels() {
        let mut e = Exposition::default();
        e.add("a_total", Kind::Counter, "As.", &[("x", "1")], 3.0);
        e.add("b", Kind::Gauge, "Bs, with \\ in.", &[], 0.5);
        e.add(
            "a_total",
            Kind::Counter,
            "As.",
            &[("x", "say \"hi\"\\\n")],
            f64::INFINITY,
        );
        assert_eq!(
            e.render(),
            "# HELP a_total As.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n\
             a_total{x=\"say \\\"hi\\\"\\\\\\n\"} +Inf\n\
             # HELP b Bs, with \\\\ in.\n# TYPE b gauge\nb 0.5\n"
        );
    }
}
