//! The sessions one process runs, by id. Closed at shutdown: from then on
//! no session gets in, so none escapes being stopped.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::Session;

#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    sessions: BTreeMap<String, Arc<Session>>,
    closed: bool,
}

impl Sessions {
    /// A fresh, hard to guess session id.
    pub fn new_id() -> String {
        format!("{:016x}", crate::ids::random_u64())
    }

    /// Adds a session; gives it back if the registry is closed, for the
    /// caller to stop.
    pub fn insert(&self, session: Arc<Session>) -> Result<(), Arc<Session>> {
        let mut inner = self.inner.write().unwrap();
        if inner.closed {
            return Err(session);
        }
        inner.sessions.insert(session.id().to_string(), session);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.inner.read().unwrap().sessions.get(id).cloned()
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Session>> {
        self.inner.write().unwrap().sessions.remove(id)
    }

    pub fn list(&self) -> Vec<Arc<Session>> {
        self.inner
            .read()
            .unwrap()
            .sessions
            .values()
            .cloned()
            .collect()
    }

    /// Whether the process is shutting down.
    pub fn is_closed(&self) -> bool {
        self.inner.read().unwrap().closed
    }

    /// Takes every session out and lets no new one in (shutdown).
    pub fn close(&self) -> Vec<Arc<Session>> {
        let mut inner = self.inner.write().unwrap();
        inner.closed = true;
        std::mem::take(&mut inner.sessions).into_values().collect()
    }
}
