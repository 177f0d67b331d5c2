//! How callcast joins calls: the [`RoomAdapter`](adapter::RoomAdapter)
//! interface, its implementations (one module each), the callcast room
//! protocol and the embedded demo room that speaks it.
//!
//! No GStreamer here: an adapter only moves SDP and JSON.

pub mod adapter;
pub mod callcast;
#[doc(hidden)]
pub mod fuzzing;
pub mod janus;
pub mod protocol;
pub mod room;
pub mod sdp;

pub use adapter::{RoomAdapter, RoomCommand, RoomEvent};
