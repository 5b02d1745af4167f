-- The audit trail: one row per security event, written in the same
-- transaction as the change it records. No foreign keys: the history of a
-- deleted user stays, naming them as they were.
CREATE TABLE "doorman_audit" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "at" datetime NOT NULL,
  "kind" varchar(40) NOT NULL,
  "outcome" varchar(16) NOT NULL,
  "actor_id" integer NULL,
  "target_id" integer NULL,
  "target" varchar(254) NOT NULL DEFAULT '',
  "address" varchar(64) NOT NULL DEFAULT '',
  "user_agent" varchar(256) NOT NULL DEFAULT '',
  "request_id" varchar(128) NOT NULL DEFAULT '',
  "detail" text NOT NULL DEFAULT ''
);
CREATE INDEX "doorman_audit_at" ON "doorman_audit" ("at");
CREATE INDEX "doorman_audit_target" ON "doorman_audit" ("target_id", "id");
CREATE INDEX "doorman_audit_actor" ON "doorman_audit" ("actor_id", "id");
