//! The sessions one process runs, by id.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::Session;

#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<RwLock<BTreeMap<String, Arc<Session>>>>,
}

impl Sessions {
    /// A fresh, hard to guess session id.
    pub fn new_id() -> String {
        format!("{:016x}", crate::ids::random_u64())
    }

    pub fn insert(&self, session: Arc<Session>) {
        self.inner
            .write()
            .unwrap()
            .insert(session.id().to_string(), session);
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.inner.read().unwrap().get(id).cloned()
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Session>> {
        self.inner.write().unwrap().remove(id)
    }

    pub fn list(&self) -> Vec<Arc<Session>> {
        self.inner.read().unwrap().values().cloned().collect()
    }
}
