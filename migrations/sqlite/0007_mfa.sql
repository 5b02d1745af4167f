-- Second factors. A user "has MFA" once a factor is confirmed; until then
-- nothing about their logins changes.

-- One authenticator-app secret per user, sealed (security/mfa.rs). A row
-- without confirmed_at is a setup in progress, replaced by the next one
-- and dead after expires_at. last_step is the last time step accepted:
-- a code is taken only for a later step, by one conditional UPDATE, so a
-- code works once even with two nodes racing. failures counts wrong codes
-- in a row (each try is booked here before the code is checked, and a
-- right one clears it); from the fifth the next try waits until
-- next_try_at, and at 100 the app's codes are refused until a recovery
-- code or an administrator clears them.
CREATE TABLE "doorman_totp" (
  "user_id" integer NOT NULL PRIMARY KEY REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "secret" varchar(200) NOT NULL,
  "created_at" datetime NOT NULL,
  "expires_at" datetime NULL,
  "confirmed_at" datetime NULL,
  "last_step" bigint NOT NULL DEFAULT -1,
  "last_used_at" datetime NULL,
  "failures" integer NOT NULL DEFAULT 0,
  "next_try_at" datetime NULL
);

-- Recovery codes, each a salted hash, each good once.
CREATE TABLE "doorman_recovery_code" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "code_hash" varchar(200) NOT NULL,
  "created_at" datetime NOT NULL,
  "used_at" datetime NULL
);
CREATE INDEX "doorman_recovery_code_user" ON "doorman_recovery_code" ("user_id");

-- A login waiting for its second factor: the token's digest, whose it is,
-- which endpoint started it (so the finish answers in that endpoint's
-- shape), the wrong codes tried, and until when it lives.
CREATE TABLE "doorman_mfa_challenge" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "token_digest" char(64) NOT NULL UNIQUE,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "issue" varchar(16) NOT NULL,
  "attempts" integer NOT NULL DEFAULT 0,
  "created_at" datetime NOT NULL,
  "expires_at" datetime NOT NULL,
  "consumed_at" datetime NULL
);
CREATE INDEX "doorman_mfa_challenge_expires" ON "doorman_mfa_challenge" ("expires_at");
