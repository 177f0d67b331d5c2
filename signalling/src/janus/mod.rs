//! Janus VideoRoom (1.x, multistream): the wire protocol, the VideoRoom
//! plugin's messages, the roster they describe, and the adapter that joins
//! a room as a hidden, receive-only bot.

pub mod adapter;
pub mod client;
pub mod protocol;
pub mod publisher;
pub mod roster;
pub mod simulcast;
pub mod videoroom;

pub use adapter::JanusAdapter;
