//! Deleting a row that other apps' tables point at, in a database shared
//! with Django.
//!
//! Django's foreign keys have no `ON DELETE` action: Django cascades in
//! Python, following each model's `on_delete`. When doorman deletes a user
//! or a group, every row that still refers to it must go first, or the
//! commit fails. The tables doorman knows (Django's auth joins, the admin's
//! log, DRF's tokens, simplejwt's outstanding tokens, the seed's accounts
//! app) are handled as their models' `on_delete` says; a row in any other
//! table (a model of the rest of the project, which may mean `PROTECT`)
//! stops the delete with [`StoreError::Referenced`] before anything is
//! written, so a delete is never half done. doorman's own tables cascade in
//! the database and are left to it.
//!
//! The foreign keys are read from the catalog (`pragma_foreign_key_list`,
//! `pg_constraint`) at each delete, so a table Django's `migrate` added
//! while doorman runs is seen at once; deletes are rare and the catalog
//! query is small.

use std::borrow::Cow;

use super::{StoreError, Tx, foreign_key_error, on_tx};

/// What a delete does to rows of a known table that refer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// Delete them (Django's `CASCADE`), after what refers to them.
    Cascade,
    /// Set the column to NULL (`SET_NULL`).
    SetNull,
}

/// `(table, column, action)`: how rows of `table` whose `column` points
/// at a deleted row are treated.
pub type Rule = (Cow<'static, str>, Cow<'static, str>, OnDelete);

const fn rule(table: &'static str, column: &'static str, action: OnDelete) -> Rule {
    (Cow::Borrowed(table), Cow::Borrowed(column), action)
}

/// What refers to a user, as the models of Django and its usual apps
/// declare it (the seed accounts app's tables come from `ProfileTables`).
pub const USER_RULES: &[Rule] = &[
    rule("auth_user_groups", "user_id", OnDelete::Cascade),
    rule("auth_user_user_permissions", "user_id", OnDelete::Cascade),
    // django.contrib.admin's LogEntry.user: CASCADE.
    rule("django_admin_log", "user_id", OnDelete::Cascade),
    // rest_framework.authtoken's Token.user: CASCADE.
    rule("authtoken_token", "user_id", OnDelete::Cascade),
    // simplejwt's OutstandingToken.user: SET_NULL (the blacklist keeps its
    // entries; BlacklistedToken points at the outstanding token).
    rule(
        "token_blacklist_outstandingtoken",
        "user_id",
        OnDelete::SetNull,
    ),
    // The seed's accounts app under its usual name, also while doorman
    // keeps profiles in its own tables: UserProfile.user CASCADE, and the
    // profile's roles (a many-to-many through table) with it.
    rule("accounts_userprofile", "user_id", OnDelete::Cascade),
    rule(
        "accounts_userprofile_roles",
        "userprofile_id",
        OnDelete::Cascade,
    ),
];

/// What refers to a group.
pub const GROUP_RULES: &[Rule] = &[
    rule("auth_user_groups", "group_id", OnDelete::Cascade),
    rule("auth_group_permissions", "group_id", OnDelete::Cascade),
    rule("accounts_userprofile_roles", "group_id", OnDelete::Cascade),
];

/// A foreign key found in the catalog.
#[derive(Debug, Clone)]
struct ForeignKey {
    /// The referring table's name (for the rules and messages), the same
    /// as SQL (quoted, and on PostgreSQL qualified by its schema when that
    /// is not on the search path), and the referring column.
    table: String,
    table_sql: String,
    column: String,
    /// The referred-to column of the parent.
    target: String,
    /// The database itself acts on delete (CASCADE, SET NULL, …).
    acts: bool,
}

/// How deep references of references are followed (user → profile →
/// profile roles is two).
const MAX_DEPTH: usize = 3;

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

impl Tx {
    /// Clears, inside this transaction, every row that refers to the row
    /// of `table` whose `key` column is `id`, following `rules`; refuses
    /// with `Referenced` if an unknown table holds such a row.
    pub async fn release_references(
        &mut self,
        table: &str,
        key: &str,
        id: i32,
        rules: &[Rule],
    ) -> Result<(), StoreError> {
        let filter = format!("{} = $1", quote(key));
        self.release(table, &quote(table), &filter, id, rules, 0)
            .await
    }

    /// The rows of `table` matching `filter` (a condition on `$1`) are about
    /// to be deleted: deal with what refers to them.
    fn release<'a>(
        &'a mut self,
        table: &'a str,
        table_sql: &'a str,
        filter: &'a str,
        id: i32,
        rules: &'a [Rule],
        depth: usize,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>> {
        Box::pin(async move {
            for fk in self.foreign_keys_to(table, table_sql).await? {
                if fk.acts {
                    continue;
                }
                let rule = rules
                    .iter()
                    .find(|(t, c, _)| *t == fk.table.as_str() && *c == fk.column.as_str());
                let child = format!(
                    "{} IN (SELECT {} FROM {table_sql} WHERE {filter})",
                    quote(&fk.column),
                    quote(&fk.target),
                );
                match rule {
                    Some((_, _, OnDelete::Cascade)) if depth < MAX_DEPTH => {
                        self.release(&fk.table, &fk.table_sql, &child, id, rules, depth + 1)
                            .await?;
                        let sql = format!("DELETE FROM {} WHERE {child}", fk.table_sql);
                        self.execute_with_id(&sql, id).await?;
                    }
                    Some((_, _, OnDelete::SetNull)) => {
                        let sql = format!(
                            "UPDATE {} SET {} = NULL WHERE {child}",
                            fk.table_sql,
                            quote(&fk.column)
                        );
                        self.execute_with_id(&sql, id).await?;
                    }
                    _ => {
                        let sql = format!("SELECT 1 FROM {} WHERE {child} LIMIT 1", fk.table_sql);
                        let found = on_tx!(self, conn => sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(id)
                            .fetch_optional(conn)
                            .await
                            .map(|r| r.is_some()))?;
                        if found {
                            return Err(StoreError::Referenced { table: fk.table });
                        }
                    }
                }
            }
            Ok(())
        })
    }

    async fn execute_with_id(&mut self, sql: &str, id: i32) -> Result<u64, StoreError> {
        let sql = sql.to_string();
        on_tx!(self, conn => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(foreign_key_error)
    }

    /// The single-column foreign keys that point at `table` (`table_sql`
    /// as SQL names it).
    async fn foreign_keys_to(
        &mut self,
        table: &str,
        table_sql: &str,
    ) -> Result<Vec<ForeignKey>, StoreError> {
        let rows: Vec<(String, String, String, String, String)> = match &mut self.inner {
            super::TxInner::Sqlite(t) => {
                sqlx::query_as(
                    "SELECT m.name, '', f.\"from\", coalesce(f.\"to\", 'id'), f.on_delete \
                     FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
                     WHERE m.type = 'table' AND lower(f.\"table\") = lower($1) \
                     ORDER BY m.name, f.\"from\"",
                )
                .bind(table)
                .fetch_all(&mut **t)
                .await?
            }
            super::TxInner::Postgres(t) => {
                sqlx::query_as(
                    "SELECT cl.relname::text, c.conrelid::regclass::text, a.attname::text, af.attname::text, \
                            CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' \
                            ELSE 'ACTS' END \
                     FROM pg_constraint c \
                     JOIN pg_class cl ON cl.oid = c.conrelid \
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
                     JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1] \
                     WHERE c.contype = 'f' AND c.confrelid = to_regclass($1) \
                       AND cardinality(c.conkey) = 1 \
                     ORDER BY 1, 3",
                )
                .bind(table_sql)
                .fetch_all(&mut **t)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(table, regclass, column, target, action)| ForeignKey {
                // PostgreSQL's regclass text is already quoted as needed
                // and qualified when off the search path.
                table_sql: match regclass.is_empty() {
                    true => quote(&table),
                    false => regclass,
                },
                table,
                column,
                target,
                acts: !matches!(
                    action.to_ascii_uppercase().as_str(),
                    "NO ACTION" | "RESTRICT"
                ),
            })
            .collect())
    }
}
