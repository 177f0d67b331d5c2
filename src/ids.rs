//! Random identifiers (session ids, RTP SSRCs): unpredictable enough to
//! not collide, without pulling in an RNG crate.

use std::hash::{BuildHasher, Hasher};

pub fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}
