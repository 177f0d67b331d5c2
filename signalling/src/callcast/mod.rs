//! The callcast room protocol over a websocket: the client connection and
//! the recorder adapter built on it.

mod adapter;
pub mod client;

pub use adapter::CallcastAdapter;
pub(crate) use adapter::Translator;
