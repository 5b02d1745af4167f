-- Lockouts that admins can see and clear. A row is written when a login
-- for the user is refused because its failed-login budget at an address
-- ran out; it says until when and how many attempts were refused.
CREATE TABLE "doorman_lockout" (
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "address" varchar(64) NOT NULL,
  "locked_until" timestamp with time zone NOT NULL,
  "refused" integer NOT NULL DEFAULT 1,
  PRIMARY KEY ("user_id", "address")
);
CREATE INDEX "doorman_lockout_until" ON "doorman_lockout" ("locked_until");

-- Clearing a user's lockouts bumps the generation; it is part of the key of
-- every failed-login budget of theirs, so the budgets start again on every
-- node and in Redis at once.
CREATE TABLE "doorman_lockout_generation" (
  "user_id" integer NOT NULL PRIMARY KEY REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "generation" integer NOT NULL
);
