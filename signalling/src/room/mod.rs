//! The embedded demo room: a websocket server speaking the callcast room
//! protocol and relaying signalling between its members (no media passes
//! through it; publishers send straight to their subscribers).

mod server;
pub mod state;

pub use server::RoomServer;
