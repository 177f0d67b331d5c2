//! The few calls into libopus's single-stream decoder that `opusfloatdec`
//! makes, behind an owner that frees it and checks every length.

use std::ffi::{CStr, c_char, c_int};
use std::ptr::NonNull;

/// The rate libopus decodes at here: what WebRTC sends and the mixer takes.
pub const RATE: u32 = 48_000;
/// Channels decoded: always two, a mono stream's on both sides.
pub const CHANNELS: usize = 2;
/// The longest a packet lasts, and the longest libopus conceals in one
/// call: 120 ms, in samples per channel.
pub const MAX_FRAME: usize = 5760;
/// Concealment comes in steps of 2.5 ms, in samples per channel.
pub const CONCEAL_STEP: usize = 120;

#[repr(C)]
struct OpusDecoder {
    _opaque: [u8; 0],
}

const OPUS_OK: c_int = 0;
const OPUS_RESET_STATE: c_int = 4028;

#[link(name = "opus")]
unsafe extern "C" {
    fn opus_decoder_create(fs: i32, channels: c_int, error: *mut c_int) -> *mut OpusDecoder;
    fn opus_decoder_destroy(st: *mut OpusDecoder);
    fn opus_decode_float(
        st: *mut OpusDecoder,
        data: *const u8,
        len: i32,
        pcm: *mut f32,
        frame_size: c_int,
        decode_fec: c_int,
    ) -> c_int;
    fn opus_decoder_ctl(st: *mut OpusDecoder, request: c_int, ...) -> c_int;
    fn opus_packet_get_nb_samples(packet: *const u8, len: i32, fs: i32) -> c_int;
    fn opus_strerror(error: c_int) -> *const c_char;
}

/// A libopus error code, with libopus's words for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("libopus: {message} ({code})")]
pub struct OpusError {
    pub code: i32,
    pub message: String,
}

impl OpusError {
    fn from_code(code: c_int) -> Self {
        // SAFETY: opus_strerror returns a static NUL-terminated string for
        // any code.
        let message = unsafe { CStr::from_ptr(opus_strerror(code)) };
        OpusError {
            code,
            message: message.to_string_lossy().into_owned(),
        }
    }
}

/// Samples per channel a packet decodes to, read from its table of
/// contents without decoding it.
pub fn packet_samples(packet: &[u8]) -> Result<usize, OpusError> {
    let len = i32::try_from(packet.len()).map_err(|_| OpusError::from_code(-4))?;
    // SAFETY: the pointer and length describe `packet`, which libopus only
    // reads.
    let n = unsafe { opus_packet_get_nb_samples(packet.as_ptr(), len, RATE as i32) };
    if n < 0 {
        return Err(OpusError::from_code(n));
    }
    Ok(n as usize)
}

/// One stream's decoder state, to 48 kHz interleaved stereo.
pub struct Decoder(NonNull<OpusDecoder>);

// SAFETY: the state is plain memory owned by this value, with no thread
// affinity; every call that touches it takes `&mut self`.
unsafe impl Send for Decoder {}

impl Decoder {
    pub fn new() -> Result<Self, OpusError> {
        let mut error: c_int = OPUS_OK;
        // SAFETY: valid rate and channel count; `error` outlives the call.
        let st = unsafe { opus_decoder_create(RATE as i32, CHANNELS as c_int, &mut error) };
        match NonNull::new(st) {
            Some(st) if error == OPUS_OK => Ok(Decoder(st)),
            Some(st) => {
                // SAFETY: created above and not used again.
                unsafe { opus_decoder_destroy(st.as_ptr()) };
                Err(OpusError::from_code(error))
            }
            None => Err(OpusError::from_code(error)),
        }
    }

    /// Decodes `packet` into `pcm` (interleaved, room for at most
    /// `pcm.len() / 2` samples per channel) and returns the samples per
    /// channel written.
    pub fn decode(&mut self, packet: &[u8], pcm: &mut [f32]) -> Result<usize, OpusError> {
        let len = i32::try_from(packet.len()).map_err(|_| OpusError::from_code(-4))?;
        if len == 0 {
            // libopus would take an empty packet for a lost one.
            return Err(OpusError::from_code(-4));
        }
        self.call(packet.as_ptr(), len, pcm)
    }

    /// Fills `pcm` with libopus's concealment of lost audio, for
    /// `pcm.len() / 2` samples per channel, a multiple of
    /// [`CONCEAL_STEP`]; returns the samples per channel written.
    pub fn conceal(&mut self, pcm: &mut [f32]) -> Result<usize, OpusError> {
        debug_assert_eq!(pcm.len() / CHANNELS % CONCEAL_STEP, 0);
        self.call(std::ptr::null(), 0, pcm)
    }

    /// Forgets the stream so far (after a seek or flush).
    pub fn reset(&mut self) {
        // SAFETY: a valid decoder; OPUS_RESET_STATE takes no argument.
        unsafe { opus_decoder_ctl(self.0.as_ptr(), OPUS_RESET_STATE) };
    }

    fn call(&mut self, data: *const u8, len: i32, pcm: &mut [f32]) -> Result<usize, OpusError> {
        let frame_size = (pcm.len() / CHANNELS).min(MAX_FRAME) as c_int;
        // SAFETY: `data` is null (concealment) or points to `len` readable
        // bytes; `pcm` has room for `frame_size` interleaved stereo samples,
        // the most libopus writes.
        let n = unsafe {
            opus_decode_float(self.0.as_ptr(), data, len, pcm.as_mut_ptr(), frame_size, 0)
        };
        if n < 0 {
            return Err(OpusError::from_code(n));
        }
        Ok(n as usize)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create and freed only here.
        unsafe { opus_decoder_destroy(self.0.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_packets_length_from_its_table_of_contents() {
        // TOC 0xfc: CELT-only fullband, 20 ms, one frame.
        assert_eq!(packet_samples(&[0xfc, 0xff, 0xfe]).unwrap(), 960);
        // TOC 0x00: SILK narrowband, 10 ms, one frame.
        assert_eq!(packet_samples(&[0x00]).unwrap(), 480);
        assert!(packet_samples(&[]).is_err());
    }

    #[test]
    fn rejects_an_empty_packet_and_a_short_buffer() {
        let mut dec = Decoder::new().unwrap();
        let mut pcm = vec![0.0; MAX_FRAME * CHANNELS];
        assert!(dec.decode(&[], &mut pcm).is_err());
        // A 20 ms packet does not fit 10 ms of room.
        let mut short = vec![0.0; 480 * CHANNELS];
        assert!(dec.decode(&[0xfc, 0xff, 0xfe], &mut short).is_err());
        assert_eq!(dec.decode(&[0xfc, 0xff, 0xfe], &mut pcm).unwrap(), 960);
    }
}
