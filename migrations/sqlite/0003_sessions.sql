-- Signed-in devices of the Accounts API: one row per login, holding the
-- refresh token currently valid for it (by jti) and the one it replaced,
-- so a rotated-out token presented again can be told apart from a stolen
-- one (after the grace window its whole family is revoked).
CREATE TABLE "doorman_session" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "current_jti" varchar(64) NOT NULL UNIQUE,
  "previous_jti" varchar(64) NULL,
  "rotated_at" datetime NULL,
  "created_at" datetime NOT NULL,
  "last_used_at" datetime NOT NULL,
  "expires_at" datetime NOT NULL,
  "client_addr" varchar(64) NOT NULL DEFAULT '',
  "user_agent" varchar(255) NOT NULL DEFAULT '',
  "revoked_at" datetime NULL
);
CREATE INDEX "doorman_session_user_id" ON "doorman_session" ("user_id");
CREATE INDEX "doorman_session_previous_jti" ON "doorman_session" ("previous_jti");
