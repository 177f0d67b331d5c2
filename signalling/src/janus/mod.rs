//! Janus VideoRoom (1.x, multistream): the wire protocol and the VideoRoom
//! plugin's messages. The adapter that drives them (a roster handle, one
//! subscriber PeerConnection) builds on these.

pub mod protocol;
pub mod videoroom;
