-- Lockouts that admins can see and clear. A row is written when a login
-- for the user is refused because its failed-login budget at an address
-- ran out; it says until when and how many attempts were refused.
CREATE TABLE "doorman_lockout" (
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "address" varchar(64) NOT NULL,
  "locked_until" datetime NOT NULL,
  "refused" integer NOT NULL DEFAULT 1,
  PRIMARY KEY ("user_id", "address")
);
CREATE INDEX "doorman_lockout_until" ON "doorman_lockout" ("locked_until");

-- Clearing a user's lockouts bumps the generation of their username and
-- e-mail address (lower-cased, as the failed-login budget keys a login);
-- the generation is part of every such budget's key, so the budgets start
-- again on every node and in Redis at once. It belongs to the name typed,
-- not to the user: a login that names no account asks for its generation
-- the same way, so a reset budget tells nothing about which names exist.
CREATE TABLE "doorman_login_generation" (
  "login" varchar(254) NOT NULL PRIMARY KEY,
  "generation" integer NOT NULL
);
