//! HLS variants and the multivariant playlist: pure rules, no GStreamer.

use serde::Deserialize;

use crate::media::encode::RenditionKey;

/// One variant as the API takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub height: u32,
    pub video_kbps: u32,
}

impl Variant {
    pub fn key(&self) -> RenditionKey {
        RenditionKey {
            height: self.height,
            video_kbps: self.video_kbps,
        }
    }

    /// Its folder, beside the multivariant playlist.
    pub fn dir(&self) -> String {
        format!("{}p", self.height)
    }
}

/// Checks an HLS output's settings; the error names the field.
pub fn check(variants: &[Variant], segment_s: u32, window: u32) -> Result<(), (String, String)> {
    if variants.is_empty() || variants.len() > 6 {
        return Err(("variants".into(), "one to six variants".into()));
    }
    for (i, v) in variants.iter().enumerate() {
        if !(144..=2160).contains(&v.height) || v.height % 2 != 0 {
            return Err((
                format!("variants[{i}].height"),
                "an even height from 144 to 2160".into(),
            ));
        }
        if !(100..=20_000).contains(&v.video_kbps) {
            return Err((
                format!("variants[{i}].video_kbps"),
                "from 100 to 20000".into(),
            ));
        }
        if variants[..i].iter().any(|o| o.height == v.height) {
            return Err((
                format!("variants[{i}].height"),
                "two variants of one height".into(),
            ));
        }
    }
    if !(1..=30).contains(&segment_s) {
        return Err(("segment_s".into(), "from 1 to 30 seconds".into()));
    }
    if window == 1 || window > 1000 {
        return Err((
            "window".into(),
            "0 (keep every segment) or 2 to 1000 segments".into(),
        ));
    }
    Ok(())
}

/// The multivariant playlist: one entry per variant, with the bandwidth a
/// player plans for (video and audio, plus MPEG-TS overhead), its
/// resolution and frame rate.
pub fn multivariant(variants: &[(Variant, u32)], audio_kbps: u32, fps: u32) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (v, width) in variants {
        let bps = (v.video_kbps + audio_kbps) as u64 * 1000;
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},FRAME-RATE={}.000\n{}/playlist.m3u8\n",
            bps * 6 / 5,
            bps * 21 / 20,
            width,
            v.height,
            fps,
            v.dir()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(height: u32, video_kbps: u32) -> Variant {
        Variant { height, video_kbps }
    }

    #[test]
    fn settings_are_checked() {
        assert!(check(&[v(720, 2500), v(360, 800)], 4, 0).is_ok());
        assert_eq!(check(&[], 4, 0).unwrap_err().0, "variants");
        assert_eq!(
            check(&[v(721, 2500)], 4, 0).unwrap_err().0,
            "variants[0].height"
        );
        assert_eq!(
            check(&[v(720, 5)], 4, 0).unwrap_err().0,
            "variants[0].video_kbps"
        );
        assert_eq!(
            check(&[v(720, 2500), v(720, 800)], 4, 0).unwrap_err().0,
            "variants[1].height"
        );
        assert_eq!(check(&[v(720, 2500)], 0, 0).unwrap_err().0, "segment_s");
        assert_eq!(check(&[v(720, 2500)], 4, 1).unwrap_err().0, "window");
    }

    #[test]
    fn every_variant_is_listed_with_resolution_and_bandwidth() {
        let text = multivariant(&[(v(720, 2500), 1280), (v(360, 800), 640)], 128, 20);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#EXTM3U");
        assert_eq!(
            lines[3],
            "#EXT-X-STREAM-INF:BANDWIDTH=3153600,AVERAGE-BANDWIDTH=2759400,RESOLUTION=1280x720,FRAME-RATE=20.000"
        );
        assert_eq!(lines[4], "720p/playlist.m3u8");
        assert!(lines[5].contains("RESOLUTION=640x360"));
        assert_eq!(lines[6], "360p/playlist.m3u8");
    }
}
