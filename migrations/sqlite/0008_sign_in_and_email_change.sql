-- How each login proved who the user is: when (auth_time) and by what
-- (amr, RFC 8176 method names separated by spaces: "pwd", "pwd otp mfa").
-- JWTs of a second-factor login carry the same as claims.
ALTER TABLE "doorman_token" ADD COLUMN "auth_time" datetime NULL;
ALTER TABLE "doorman_token" ADD COLUMN "amr" varchar(64) NOT NULL DEFAULT '';
ALTER TABLE "doorman_session" ADD COLUMN "auth_time" datetime NULL;
ALTER TABLE "doorman_session" ADD COLUMN "amr" varchar(64) NOT NULL DEFAULT '';

-- Reauthentications (POST /auth/reauthenticate/): the credential that
-- asked (the digest of its kind and id: an access JWT's jti, an opaque
-- token's row, a DRF key), how the user proved themselves again, and
-- until when that counts for sensitive changes.
CREATE TABLE "doorman_reauth" (
  "credential" char(64) NOT NULL PRIMARY KEY,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "amr" varchar(64) NOT NULL,
  "at" datetime NOT NULL,
  "expires_at" datetime NOT NULL
);
CREATE INDEX "doorman_reauth_user" ON "doorman_reauth" ("user_id");
CREATE INDEX "doorman_reauth_expires" ON "doorman_reauth" ("expires_at");

-- E-mail changes waiting for the new address to confirm them
-- (POST /auth/users/change_email/): the link's token as a digest, the
-- address it applies, until when, and when it was used (once).
CREATE TABLE "doorman_email_change" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "new_email" varchar(254) NOT NULL,
  "token_digest" char(64) NOT NULL UNIQUE,
  "created_at" datetime NOT NULL,
  "expires_at" datetime NOT NULL,
  "used_at" datetime NULL
);
CREATE INDEX "doorman_email_change_user" ON "doorman_email_change" ("user_id");
CREATE INDEX "doorman_email_change_expires" ON "doorman_email_change" ("expires_at");

-- Passkeys (WebAuthn credentials), each as webauthn-rs serialises it
-- (JSON, with its signature counter), found by its credential id.
CREATE TABLE "doorman_webauthn_credential" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "credential_id" varchar(1400) NOT NULL UNIQUE,
  "name" varchar(64) NOT NULL,
  "passkey" text NOT NULL,
  "created_at" datetime NOT NULL,
  "last_used_at" datetime NULL
);
CREATE INDEX "doorman_webauthn_credential_user" ON "doorman_webauthn_credential" ("user_id");

-- The WebAuthn user handle of each user with a passkey: random, so an
-- authenticator never holds the integer id.
CREATE TABLE "doorman_webauthn_user" (
  "user_id" integer NOT NULL PRIMARY KEY REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "handle" char(36) NOT NULL UNIQUE
);

-- WebAuthn ceremonies in progress (registration, a second-factor login,
-- a passkey login), their webauthn-rs state kept here so any node can
-- finish what another began; each is finished once.
CREATE TABLE "doorman_webauthn_ceremony" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "token_digest" char(64) NOT NULL UNIQUE,
  "purpose" varchar(16) NOT NULL,
  "user_id" integer NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "issue" varchar(16) NOT NULL DEFAULT '',
  "state" text NOT NULL,
  "created_at" datetime NOT NULL,
  "expires_at" datetime NOT NULL,
  "consumed_at" datetime NULL
);
CREATE INDEX "doorman_webauthn_ceremony_expires" ON "doorman_webauthn_ceremony" ("expires_at");
