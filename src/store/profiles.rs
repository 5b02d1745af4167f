//! Profiles (`doorman_profile`, its `roles`), provinces, and the batched
//! reads the admin lists need: one query per kind of row for a whole page,
//! never one per user. Profiles are created lazily with
//! `INSERT … ON CONFLICT (user_id) DO NOTHING`, so two first requests at
//! once both succeed and leave one row.

use super::{Store, StoreError, Timestamp, Tx, map_unique, on_pool, on_tx};
use crate::model::{Named, Profile, ProfileChanges, Province, UserSummary};

/// `$first, $first+1, …` for `n` values bound after `first - 1` others.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    user_id: i32,
    username: String,
    email: String,
    profile_id: Option<i32>,
    phone: Option<String>,
    address: Option<String>,
    birth_date: Option<time::Date>,
    profile_picture: Option<String>,
    bio: Option<String>,
    province_id: Option<i32>,
    created_at: Option<Timestamp>,
    updated_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i32,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    is_active: bool,
}

/// Ids of the profile and province tables are cast: a Django app made
/// with `BigAutoField` (Django 3.2's default for new projects) has
/// `bigint` ids there, which doorman reads as the `integer` they fit in.
const PROFILE_SELECT: &str = "SELECT u.id AS user_id, u.username, u.email, \
     CAST(p.id AS INTEGER) AS profile_id, \
     p.phone, p.address, p.birth_date, p.profile_picture, p.bio, \
     CAST(p.province_id AS INTEGER) AS province_id, p.created_at, \
     p.updated_at FROM auth_user u LEFT JOIN @profile@ p ON p.user_id = u.id";

/// Matches username, e-mail, first or last name, ignoring case. `ESCAPE`
/// is spelled out because SQLite has no default escape character (and
/// PostgreSQL's default, `\`, is the one chosen here), so `like_pattern`'s
/// escapes mean the same on both.
/// Both sides are folded by the database's own `lower()`, so a term spelt
/// as stored always matches, whatever the database folds (SQLite folds
/// only ASCII letters, PostgreSQL as its `LC_CTYPE` does).
const SEARCH: &str = "($1 = '' OR lower(username) LIKE lower($1) ESCAPE '\\' \
     OR lower(email) LIKE lower($1) ESCAPE '\\' OR lower(first_name) LIKE lower($1) ESCAPE '\\' \
     OR lower(last_name) LIKE lower($1) ESCAPE '\\')";

/// `%term%` for a case-insensitive substring test, with LIKE's own
/// characters (`%`, `_` and the escape `\`) escaped so that they match
/// themselves; `""` for no search.
fn like_pattern(search: &str) -> String {
    if search.is_empty() {
        return String::new();
    }
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// Creates the user's profile unless it exists; safe to race.
    pub async fn ensure_profile(&self, user_id: i32) -> Result<(), StoreError> {
        self.ensure_profiles(&[user_id]).await
    }

    /// Creates the missing profiles of these (existing) users at once.
    pub async fn ensure_profiles(&self, user_ids: &[i32]) -> Result<(), StoreError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        let sql = self.profile_tables.sql(&format!(
            "INSERT INTO @profile@ (user_id, phone, address, bio, profile_picture, created_at, updated_at) \
             SELECT id, '', '', '', '', $1, $1 FROM auth_user WHERE id IN ({}) \
             ON CONFLICT (user_id) DO NOTHING",
            placeholders(2, user_ids.len())
        ));
        let now = Timestamp::now();
        on_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(now);
            for id in user_ids {
                q = q.bind(*id);
            }
            q.execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The profiles of these users, in the order given; a user without a
    /// profile row has `profile: None`, an unknown id is left out.
    pub async fn load_profiles(
        &self,
        user_ids: &[i32],
    ) -> Result<Vec<(i32, Option<Profile>)>, StoreError> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.profile_tables.sql(&format!(
            "{PROFILE_SELECT} WHERE u.id IN ({})",
            placeholders(1, user_ids.len())
        ));
        let rows: Vec<ProfileRow> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in user_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await
        })?;
        let profile_ids: Vec<i32> = rows.iter().filter_map(|r| r.profile_id).collect();
        let roles = self
            .named_links(
                &self.profile_tables.profile_roles,
                &self.profile_tables.roles_profile,
                &profile_ids,
            )
            .await?;
        let groups = self.user_groups(user_ids).await?;
        let pick = |links: &[(i32, Named)], owner: i32| -> Vec<Named> {
            links
                .iter()
                .filter(|(o, _)| *o == owner)
                .map(|(_, n)| n.clone())
                .collect()
        };
        let mut out = Vec::new();
        for id in user_ids {
            let Some(row) = rows.iter().find(|r| r.user_id == *id) else {
                continue;
            };
            let profile = match (row.profile_id, row.created_at, row.updated_at) {
                (Some(pid), Some(created_at), Some(updated_at)) => Some(Profile {
                    user_id: row.user_id,
                    username: row.username.clone(),
                    email: row.email.clone(),
                    phone: row.phone.clone().unwrap_or_default(),
                    address: row.address.clone().unwrap_or_default(),
                    birth_date: row.birth_date,
                    picture: row.profile_picture.clone().filter(|p| !p.is_empty()),
                    bio: row.bio.clone().unwrap_or_default(),
                    roles: pick(&roles, pid),
                    groups: pick(&groups, row.user_id),
                    province_id: row.province_id,
                    created_at: created_at.0,
                    updated_at: updated_at.0,
                }),
                _ => None,
            };
            out.push((*id, profile));
        }
        Ok(out)
    }

    /// `(user id, group)` for every auth group of these users.
    pub async fn user_groups(&self, user_ids: &[i32]) -> Result<Vec<(i32, Named)>, StoreError> {
        self.named_links("auth_user_groups", "user_id", user_ids)
            .await
    }

    /// `(owner, group)` rows of a join table to `auth_group`.
    async fn named_links(
        &self,
        table: &str,
        owner: &str,
        ids: &[i32],
    ) -> Result<Vec<(i32, Named)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT CAST(l.\"{owner}\" AS INTEGER), g.id, g.name FROM \"{table}\" l \
             JOIN auth_group g ON g.id = l.group_id WHERE l.\"{owner}\" IN ({}) ORDER BY g.id",
            placeholders(1, ids.len())
        );
        let rows: Vec<(i32, i32, String)> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(o, id, name)| (o, Named { id, name }))
            .collect())
    }

    /// Which of these group ids do not exist, in the order given.
    pub async fn missing_groups(&self, ids: &[i32]) -> Result<Vec<i32>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<i32> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        let mut found = std::collections::HashSet::new();
        // The list comes from a request: de-duplicated and read in chunks,
        // each statement stays far below either backend's bound-value limit.
        for chunk in unique.chunks(500) {
            let sql = format!(
                "SELECT id FROM auth_group WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let rows: Vec<(i32,)> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await
            })?;
            found.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(unique
            .into_iter()
            .filter(|id| !found.contains(id))
            .collect())
    }

    /// How many users match `search` (see `SEARCH`). Without a search this
    /// is every user: counting them is a scan of the whole table (O(users)
    /// on both databases), so the total comes from the user cache when it
    /// holds one — it is dropped by any write to `auth_user` through this
    /// process and lives at most `database.user_cache_ttl_ms` (plus the
    /// length of one recount), which keeps a page of the admin list
    /// O(page size) at a million users.
    pub async fn count_users_matching(&self, search: &str) -> Result<i64, StoreError> {
        if search.is_empty() {
            if let Some(n) = self.user_cache.total() {
                return Ok(n);
            }
            let _counting = match self.user_cache.counting.try_lock() {
                Ok(guard) => guard,
                Err(_) => {
                    // Someone is counting: use the last count if there is one.
                    if let Some(n) = self.user_cache.stale_total() {
                        return Ok(n);
                    }
                    self.user_cache.counting.lock().await
                }
            };
            if let Some(n) = self.user_cache.total() {
                return Ok(n);
            }
            let generation = self.user_cache.generation();
            let n = self.count_users().await?;
            self.user_cache.put_total(generation, n);
            return Ok(n);
        }
        let sql = format!("SELECT count(*) FROM auth_user WHERE {SEARCH}");
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(like_pattern(search))
            .fetch_one(pool)
            .await)?;
        Ok(n)
    }

    /// One page of the users matching `search`, by id, with their group ids.
    pub async fn user_page(
        &self,
        search: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<UserSummary>, StoreError> {
        // Without a search the four LIKE tests are replaced by `$1 = ''`
        // (kept so the binds stay the same), which lets SQLite walk the
        // primary key for one page; PostgreSQL's plan (EXPLAIN, generic and
        // custom, 1,000,000 rows) is a primary-key index scan under the
        // limit either way.
        let filter = if search.is_empty() { "$1 = ''" } else { SEARCH };
        let sql = format!(
            "SELECT id, username, email, first_name, last_name, is_active FROM auth_user \
             WHERE {filter} ORDER BY id LIMIT $2 OFFSET $3"
        );
        let rows: Vec<UserRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(like_pattern(search))
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)?;
        let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
        let groups = self.user_groups(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| UserSummary {
                groups: groups
                    .iter()
                    .filter(|(u, _)| *u == r.id)
                    .map(|(_, g)| g.id)
                    .collect(),
                id: r.id,
                username: r.username,
                email: r.email,
                first_name: r.first_name,
                last_name: r.last_name,
                is_active: r.is_active,
            })
            .collect())
    }

    /// The stored picture path of a user's profile, if any.
    pub async fn profile_picture(&self, user_id: i32) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = on_pool!(self, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(self.profile_tables.sql("SELECT profile_picture FROM @profile@ WHERE user_id = $1")),
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.and_then(|(p,)| p).filter(|p| !p.is_empty()))
    }

    /// Every province, by name.
    /// Whether any profile points at this stored picture.
    pub async fn picture_in_use(&self, path: &str) -> Result<bool, StoreError> {
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(self.profile_tables.sql("SELECT 1 FROM @profile@ WHERE profile_picture = $1 LIMIT 1")),
        )
        .bind(path)
        .fetch_optional(pool)
        .await)?;
        Ok(row.is_some())
    }

    pub async fn list_provinces(&self) -> Result<Vec<Province>, StoreError> {
        let rows: Vec<(i32, String, Option<String>)> = on_pool!(self, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(self.profile_tables.sql("SELECT CAST(id AS INTEGER), name, code FROM @province@ ORDER BY lower(name), id")),
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, code)| Province { id, name, code })
            .collect())
    }

    /// The province with this name, ignoring case.
    pub async fn find_province_by_name(&self, name: &str) -> Result<Option<Province>, StoreError> {
        let row: Option<(i32, String, Option<String>)> = on_pool!(self, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(self.profile_tables.sql("SELECT CAST(id AS INTEGER), name, code FROM @province@ WHERE lower(name) = lower($1) ORDER BY id LIMIT 1")),
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(id, name, code)| Province { id, name, code }))
    }

    pub async fn province_exists(&self, id: i32) -> Result<bool, StoreError> {
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(self.profile_tables.sql("SELECT CAST(id AS INTEGER) FROM @province@ WHERE id = $1")))
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(row.is_some())
    }

    /// Inserts a province; a taken name is `Conflict { field: "name" }`.
    pub async fn insert_province(
        &self,
        name: &str,
        code: Option<&str>,
    ) -> Result<Province, StoreError> {
        let (id,): (i32,) = on_pool!(self, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(self.profile_tables.sql("INSERT INTO @province@ (name, code) VALUES ($1, $2) RETURNING CAST(id AS INTEGER)")),
        )
        .bind(name)
        .bind(code)
        .fetch_one(pool)
        .await)
        .map_err(|e| map_unique(e, &["name"]))?;
        Ok(Province {
            id,
            name: name.to_string(),
            code: code.map(str::to_string),
        })
    }

    pub async fn set_province_code(&self, id: i32, code: Option<&str>) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(sqlx::AssertSqlSafe(self.profile_tables.sql("UPDATE @province@ SET code = $2 WHERE id = $1")))
            .bind(id)
            .bind(code)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Tx {
    /// The stored picture path of a user's profile, read inside the write.
    pub async fn profile_picture(&mut self, user_id: i32) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = on_tx!(self, conn => sqlx::query_as(
            sqlx::AssertSqlSafe(self.tables.sql("SELECT profile_picture FROM @profile@ WHERE user_id = $1")),
        )
        .bind(user_id)
        .fetch_optional(conn)
        .await)?;
        Ok(row.and_then(|(p,)| p).filter(|p| !p.is_empty()))
    }

    /// Applies `changes` to the user's (existing) profile and moves
    /// `updated_at`. A `None` leaves a column alone.
    pub async fn update_profile(
        &mut self,
        user_id: i32,
        changes: &ProfileChanges,
    ) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(
            sqlx::AssertSqlSafe(self.tables.sql("UPDATE @profile@ SET phone = COALESCE($2, phone), address = COALESCE($3, address), \
             bio = COALESCE($4, bio), \
             birth_date = CASE WHEN $5 THEN $6 ELSE birth_date END, \
             province_id = CASE WHEN $7 THEN $8 ELSE province_id END, \
             profile_picture = CASE WHEN $9 THEN $10 ELSE profile_picture END, \
             updated_at = $11 WHERE user_id = $1")),
        )
        .bind(user_id)
        .bind(&changes.phone)
        .bind(&changes.address)
        .bind(&changes.bio)
        .bind(changes.birth_date.is_some())
        .bind(changes.birth_date.flatten())
        .bind(changes.province_id.is_some())
        .bind(changes.province_id.flatten())
        .bind(changes.picture.is_some())
        // A cleared picture is stored as `''`, as Django's `ImageField`
        // stores one (its column may be NOT NULL).
        .bind(changes.picture.clone().map(Option::unwrap_or_default))
        .bind(Timestamp::now())
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        if let Some(roles) = &changes.roles {
            on_tx!(self, conn => sqlx::query(
                sqlx::AssertSqlSafe(self.tables.sql("DELETE FROM @profile_roles@ WHERE @roles_profile@ = \
                 (SELECT id FROM @profile@ WHERE user_id = $1)")),
            )
            .bind(user_id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
            for group in roles {
                on_tx!(self, conn => sqlx::query(
                    sqlx::AssertSqlSafe(self.tables.sql("INSERT INTO @profile_roles@ (@roles_profile@, group_id) \
                     SELECT id, $2 FROM @profile@ WHERE user_id = $1")),
                )
                .bind(user_id)
                .bind(*group)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
            }
        }
        Ok(())
    }

    /// Replaces the user's auth groups.
    pub async fn set_user_groups(
        &mut self,
        user_id: i32,
        groups: &[i32],
    ) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query("DELETE FROM auth_user_groups WHERE user_id = $1")
            .bind(user_id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        for group in groups {
            on_tx!(self, conn => sqlx::query("INSERT INTO auth_user_groups (user_id, group_id) VALUES ($1, $2)")
                .bind(user_id)
                .bind(*group)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }
}
