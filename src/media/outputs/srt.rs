//! Streaming MPEG-TS over SRT, as caller (we dial a listener) or listener
//! (a peer dials us).

use gst::prelude::*;

use super::{OutputBin, add_sink_pad, annexb_parser, entry_queue, not_live};
use crate::media::{MediaError, link_chain, make};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SrtMode {
    #[default]
    Caller,
    Listener,
}

impl SrtMode {
    fn name(self) -> &'static str {
        match self {
            SrtMode::Caller => "caller",
            SrtMode::Listener => "listener",
        }
    }
}

/// SRT takes passphrases of 10 to 79 characters.
pub fn check(
    url: &str,
    latency_ms: u32,
    passphrase: Option<&str>,
) -> Result<(), (&'static str, String)> {
    let rest = url
        .strip_prefix("srt://")
        .ok_or(("url", "must start with srt://".to_string()))?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let port = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    if port.is_none_or(|p| p == 0) || rest.contains('?') {
        return Err(("url", "must be srt://host:port (options are fields)".into()));
    }
    if !(20..=8000).contains(&latency_ms) {
        return Err(("latency_ms", "from 20 to 8000".into()));
    }
    if let Some(p) = passphrase
        && !(10..=79).contains(&p.len())
    {
        return Err(("passphrase", "10 to 79 characters".into()));
    }
    Ok(())
}

pub struct SrtOutput {
    bin: gst::Bin,
    target: String,
}

impl SrtOutput {
    pub fn new(
        name: &str,
        url: &str,
        mode: SrtMode,
        latency_ms: u32,
        passphrase: Option<&str>,
    ) -> Result<Self, MediaError> {
        check(url, latency_ms, passphrase)
            .map_err(|(f, m)| MediaError::Output(format!("{f}: {m}")))?;
        let bin = gst::Bin::builder().name(name).build();
        let mux = make("mpegtsmux", None)?;
        // 7 TS packets per datagram: what SRT peers expect.
        mux.set_property("alignment", 7i32);
        let sink = gst::ElementFactory::make("srtsink")
            .property("uri", format!("{url}?mode={}", mode.name()))
            .property("latency", latency_ms as i32)
            // A peer that is not there yet must not hold up the program.
            .property("wait-for-connection", false)
            .property("sync", false)
            .property("async", false)
            .build()
            .map_err(|_| MediaError::MissingElement("srtsink"))?;
        if let Some(p) = passphrase {
            sink.set_property("passphrase", p);
        }
        let video_queue = entry_queue(2)?;
        let [parse, annexb] = annexb_parser()?;
        let audio_queue = entry_queue(2)?;
        bin.add_many([&mux, &sink, &video_queue, &parse, &annexb, &audio_queue])
            .map_err(|_| MediaError::Link("srt elements".into()))?;
        link_chain(&[&mux, &sink])?;
        link_chain(&[&video_queue, &parse, &annexb, &mux])?;
        link_chain(&[&audio_queue, &mux])?;
        for into_mux in [&annexb, &audio_queue] {
            not_live(&into_mux.static_pad("src").expect("src pad"));
        }
        add_sink_pad(
            &bin,
            "video",
            &video_queue.static_pad("sink").expect("queue sink"),
        )?;
        add_sink_pad(
            &bin,
            "audio",
            &audio_queue.static_pad("sink").expect("queue sink"),
        )?;
        Ok(SrtOutput {
            bin,
            target: format!("{url} ({})", mode.name()),
        })
    }
}

impl OutputBin for SrtOutput {
    fn kind(&self) -> &'static str {
        "srt"
    }

    fn bin(&self) -> &gst::Bin {
        &self.bin
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_options_are_checked() {
        assert!(check("srt://127.0.0.1:9000", 120, None).is_ok());
        assert_eq!(check("udp://x:1", 120, None).unwrap_err().0, "url");
        assert_eq!(check("srt://host", 120, None).unwrap_err().0, "url");
        assert_eq!(
            check("srt://h:9000?mode=listener", 120, None)
                .unwrap_err()
                .0,
            "url"
        );
        assert_eq!(check("srt://h:9000", 5, None).unwrap_err().0, "latency_ms");
        assert_eq!(
            check("srt://h:9000", 120, Some("short")).unwrap_err().0,
            "passphrase"
        );
    }
}
