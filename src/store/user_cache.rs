//! What a JWT-authenticated request needs of its user (the row and the
//! `tokens_valid_after` cut-off), kept in memory for a short time.
//!
//! Every JWT request used to pay a database round trip for this; a profile
//! of `GET /auth/users/me/` showed that round trip (and the thread hand-offs
//! of the SQLite driver behind it) as the largest cost after the socket
//! writes. The cache keeps the answer exact for writes made by this process
//! and bounds staleness for everything else:
//!
//! - every transaction that writes `auth_user` or `doorman_user_security`
//!   invalidates the whole cache *after* it commits (a global generation
//!   counter, so an answer read before the commit can never be stored
//!   after it: `put` only stores what was read under the current
//!   generation);
//! - an entry lives at most `ttl`, which bounds how long a change made
//!   elsewhere — another node, `doorman changepassword` in another process,
//!   Django writing the same tables — takes to be seen. `ttl` 0 turns the
//!   cache off.
//!
//! It also keeps the number of users (the `count` of an unfiltered admin
//! list page) and the opaque tokens checked lately (key digest → token and
//! user id), under the same rules: a transaction that deletes tokens marks
//! itself as touching users, so a logout or a revocation on this node is
//! seen at once and one elsewhere (another node, Django deleting an
//! `authtoken_token` row) within `ttl`. Unknown keys are not remembered.
//!
//! Invalidation is global rather than per user: writes to these tables are
//! rare next to authenticated reads (a login updates `last_login`), and one
//! counter is simple to get right. No crate was used: the policy (generation
//! check on insert) is the point, and the map is a few lines.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::{Timestamp, TokenRef};
use crate::model::User;

/// Above this many entries the cache starts over (each is a few hundred
/// bytes, so this bounds it to a few tens of MiB).
const CAPACITY: usize = 100_000;

struct Entry {
    generation: u64,
    stored: Instant,
    user: User,
    cutoff: Option<Timestamp>,
}

struct TokenEntry {
    generation: u64,
    stored: Instant,
    token: TokenRef,
    user_id: i32,
}

pub struct UserCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<i32, Entry>>,
    /// By key digest.
    tokens: Mutex<HashMap<String, TokenEntry>>,
    /// The number of users (generation, stored, count), for list pages.
    total: Mutex<Option<(u64, Instant, i64)>>,
    /// Held while the number of users is being counted, so that when the
    /// entry lapses one request counts while the others use the previous
    /// count (or, without one, wait for the answer) instead of all scanning
    /// the table at once: the benchmark saw 64 concurrent counts of a
    /// million rows push PostgreSQL's p99 to 6 s, and a single waited-for
    /// count still held every request up for a second.
    pub counting: tokio::sync::Mutex<()>,
}

impl UserCache {
    pub fn new(ttl: Duration) -> UserCache {
        UserCache {
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            total: Mutex::new(None),
            counting: tokio::sync::Mutex::new(()),
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Read before querying the database; pass it to `put`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, id: i32) -> Option<(User, Option<Timestamp>)> {
        if !self.enabled() {
            return None;
        }
        let generation = self.generation();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(&id)?;
        (entry.generation == generation && entry.stored.elapsed() < self.ttl)
            .then(|| (entry.user.clone(), entry.cutoff))
    }

    /// Stores what was read from the database, unless a write committed
    /// since `generation` was taken (the answer may predate it).
    pub fn put(&self, generation: u64, user: &User, cutoff: Option<Timestamp>) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            user.id,
            Entry {
                generation,
                stored: Instant::now(),
                user: user.clone(),
                cutoff,
            },
        );
    }

    /// The token a key digest was found to be, and its user's id.
    pub fn get_token(&self, digest: &str) -> Option<(TokenRef, i32)> {
        if !self.enabled() {
            return None;
        }
        let generation = self.generation();
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let entry = tokens.get(digest)?;
        (entry.generation == generation && entry.stored.elapsed() < self.ttl)
            .then(|| (entry.token.clone(), entry.user_id))
    }

    /// Stores a token found under `generation` (see `put`).
    pub fn put_token(&self, generation: u64, digest: &str, token: TokenRef, user_id: i32) {
        if !self.enabled() {
            return;
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() != generation {
            return;
        }
        if tokens.len() >= CAPACITY {
            tokens.clear();
        }
        tokens.insert(
            digest.to_string(),
            TokenEntry {
                generation,
                stored: Instant::now(),
                token,
                user_id,
            },
        );
    }

    /// The number of users, if counted under the current generation less
    /// than `ttl` ago.
    pub fn total(&self) -> Option<i64> {
        let (stored, n) = self.total_entry()?;
        (stored.elapsed() < self.ttl).then_some(n)
    }

    /// The number of users last counted under the current generation,
    /// however old: served while another request recounts, so that a slow
    /// count of a large table holds up nobody but the counter.
    pub fn stale_total(&self) -> Option<i64> {
        self.total_entry().map(|(_, n)| n)
    }

    fn total_entry(&self) -> Option<(Instant, i64)> {
        if !self.enabled() {
            return None;
        }
        let total = self.total.lock().unwrap_or_else(|e| e.into_inner());
        let (generation, stored, n) = (*total)?;
        (generation == self.generation()).then_some((stored, n))
    }

    /// Stores the number of users counted under `generation` (see `put`).
    pub fn put_total(&self, generation: u64, n: i64) {
        if !self.enabled() {
            return;
        }
        let mut total = self.total.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() == generation {
            *total = Some((generation, Instant::now(), n));
        }
    }

    /// Forgets everything; called after a commit that changed users.
    pub fn invalidate(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32, name: &str) -> User {
        User {
            id,
            username: name.into(),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            last_login: None,
            date_joined: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn hit_until_invalidated() {
        let cache = UserCache::new(Duration::from_secs(60));
        let g = cache.generation();
        cache.put(g, &user(1, "a"), None);
        assert_eq!(cache.get(1).unwrap().0.username, "a");
        cache.invalidate();
        assert!(cache.get(1).is_none());
    }

    #[test]
    fn a_token_is_remembered_until_invalidated_and_not_if_read_before() {
        let cache = UserCache::new(Duration::from_secs(60));
        let g = cache.generation();
        cache.put_token(g, "d1", TokenRef::Own(7), 1);
        assert_eq!(cache.get_token("d1"), Some((TokenRef::Own(7), 1)));
        assert_eq!(cache.get_token("d2"), None);
        cache.invalidate();
        assert_eq!(cache.get_token("d1"), None);
        cache.put_token(g, "d1", TokenRef::Drf { key: "k".into() }, 1);
        assert_eq!(cache.get_token("d1"), None, "read before the write");
    }

    #[test]
    fn an_answer_read_before_a_commit_is_not_stored_after_it() {
        let cache = UserCache::new(Duration::from_secs(60));
        let g = cache.generation();
        cache.invalidate(); // a write committed while the read was in flight
        cache.put(g, &user(1, "stale"), None);
        assert!(cache.get(1).is_none());
    }

    #[test]
    fn entries_expire() {
        let cache = UserCache::new(Duration::from_millis(1));
        cache.put(cache.generation(), &user(1, "a"), None);
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(1).is_none());
    }

    #[test]
    fn the_total_follows_the_same_rules() {
        let cache = UserCache::new(Duration::from_secs(60));
        let g = cache.generation();
        cache.put_total(g, 7);
        assert_eq!(cache.total(), Some(7));
        cache.invalidate();
        assert_eq!(cache.total(), None);
        cache.put_total(g, 7); // counted before the write: not stored
        assert_eq!(cache.total(), None);
        assert_eq!(cache.stale_total(), None);
        cache.put_total(cache.generation(), 8);
        assert_eq!(cache.stale_total(), Some(8));
    }

    #[test]
    fn zero_ttl_is_off() {
        let cache = UserCache::new(Duration::ZERO);
        cache.put(cache.generation(), &user(1, "a"), None);
        assert!(cache.get(1).is_none());
    }
}
