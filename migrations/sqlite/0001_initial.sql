-- doorman schema, SQLite dialect. The auth_* and django_* tables are Django's
-- own (names, column types and index names as `manage.py migrate` makes them
-- with Django 5.2), created only if missing so that an existing Django
-- database is adopted as it is. Django's foreign keys have no ON DELETE
-- action (Django cascades in Python), so the store deletes dependent rows of
-- those tables itself; doorman's own tables cascade in the database.

CREATE TABLE IF NOT EXISTS "django_migrations" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, "applied" datetime NOT NULL);

CREATE TABLE IF NOT EXISTS "django_content_type" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "app_label" varchar(100) NOT NULL, "model" varchar(100) NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "django_content_type_app_label_model_76bd3d3b_uniq" ON "django_content_type" ("app_label", "model");

CREATE TABLE IF NOT EXISTS "auth_permission" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "content_type_id" integer NOT NULL REFERENCES "django_content_type" ("id") DEFERRABLE INITIALLY DEFERRED, "codename" varchar(100) NOT NULL, "name" varchar(255) NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "auth_permission_content_type_id_codename_01ab375a_uniq" ON "auth_permission" ("content_type_id", "codename");
CREATE INDEX IF NOT EXISTS "auth_permission_content_type_id_2f476e4b" ON "auth_permission" ("content_type_id");

CREATE TABLE IF NOT EXISTS "auth_group" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(150) NOT NULL UNIQUE);

CREATE TABLE IF NOT EXISTS "auth_group_permissions" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "group_id" integer NOT NULL REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED, "permission_id" integer NOT NULL REFERENCES "auth_permission" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE UNIQUE INDEX IF NOT EXISTS "auth_group_permissions_group_id_permission_id_0cd325b0_uniq" ON "auth_group_permissions" ("group_id", "permission_id");
CREATE INDEX IF NOT EXISTS "auth_group_permissions_group_id_b120cbf9" ON "auth_group_permissions" ("group_id");
CREATE INDEX IF NOT EXISTS "auth_group_permissions_permission_id_84c5c92e" ON "auth_group_permissions" ("permission_id");

CREATE TABLE IF NOT EXISTS "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL);

CREATE TABLE IF NOT EXISTS "auth_user_groups" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "group_id" integer NOT NULL REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE UNIQUE INDEX IF NOT EXISTS "auth_user_groups_user_id_group_id_94350c0c_uniq" ON "auth_user_groups" ("user_id", "group_id");
CREATE INDEX IF NOT EXISTS "auth_user_groups_user_id_6a12ed8b" ON "auth_user_groups" ("user_id");
CREATE INDEX IF NOT EXISTS "auth_user_groups_group_id_97559544" ON "auth_user_groups" ("group_id");

CREATE TABLE IF NOT EXISTS "auth_user_user_permissions" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "permission_id" integer NOT NULL REFERENCES "auth_permission" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE UNIQUE INDEX IF NOT EXISTS "auth_user_user_permissions_user_id_permission_id_14a6b632_uniq" ON "auth_user_user_permissions" ("user_id", "permission_id");
CREATE INDEX IF NOT EXISTS "auth_user_user_permissions_user_id_a95ead1b" ON "auth_user_user_permissions" ("user_id");
CREATE INDEX IF NOT EXISTS "auth_user_user_permissions_permission_id_1fbb5f2c" ON "auth_user_user_permissions" ("permission_id");

-- Case-insensitive look-ups by e-mail (login by e-mail, reset by e-mail).
-- Uniqueness is a setting (users.unique_email) and is enforced by a separate
-- unique index the store creates or drops at start-up.
CREATE INDEX IF NOT EXISTS "doorman_auth_user_email_lower" ON "auth_user" (lower("email"));

-- Record Django's auth/contenttypes migrations as applied so that Django
-- pointed at a database doorman created does not try to create these tables.
WITH "m"("app", "name") AS (VALUES
  ('contenttypes', '0001_initial'),
  ('contenttypes', '0002_remove_content_type_name'),
  ('auth', '0001_initial'),
  ('auth', '0002_alter_permission_name_max_length'),
  ('auth', '0003_alter_user_email_max_length'),
  ('auth', '0004_alter_user_username_opts'),
  ('auth', '0005_alter_user_last_login_null'),
  ('auth', '0006_require_contenttypes_0002'),
  ('auth', '0007_alter_validators_add_error_messages'),
  ('auth', '0008_alter_user_username_max_length'),
  ('auth', '0009_alter_user_last_name_max_length'),
  ('auth', '0010_alter_group_name_max_length'),
  ('auth', '0011_update_proxy_permissions'),
  ('auth', '0012_alter_user_first_name_max_length'))
INSERT INTO "django_migrations" ("app", "name", "applied")
SELECT "m"."app", "m"."name", strftime('%Y-%m-%d %H:%M:%f', 'now') FROM "m"
WHERE NOT EXISTS (SELECT 1 FROM "django_migrations" "d" WHERE "d"."app" = "m"."app" AND "d"."name" = "m"."name");

-- doorman's own tables.
CREATE TABLE "doorman_province" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "name" varchar(100) NOT NULL UNIQUE,
  "code" varchar(10) NULL
);

CREATE TABLE "doorman_profile" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "user_id" integer NOT NULL UNIQUE REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "phone" varchar(20) NOT NULL DEFAULT '',
  "address" varchar(255) NOT NULL DEFAULT '',
  "birth_date" date NULL,
  "profile_picture" varchar(100) NULL,
  "bio" text NOT NULL DEFAULT '',
  "province_id" integer NULL REFERENCES "doorman_province" ("id") ON DELETE SET NULL,
  "created_at" datetime NOT NULL,
  "updated_at" datetime NOT NULL
);
CREATE INDEX "doorman_profile_province_id" ON "doorman_profile" ("province_id");

CREATE TABLE "doorman_profile_roles" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "profile_id" integer NOT NULL REFERENCES "doorman_profile" ("id") ON DELETE CASCADE,
  "group_id" integer NOT NULL REFERENCES "auth_group" ("id") ON DELETE CASCADE,
  UNIQUE ("profile_id", "group_id")
);
CREATE INDEX "doorman_profile_roles_group_id" ON "doorman_profile_roles" ("group_id");

-- Opaque API tokens: only the SHA-256 digest (hex) is stored.
CREATE TABLE "doorman_token" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "digest" char(64) NOT NULL UNIQUE,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "label" varchar(100) NOT NULL DEFAULT '',
  "created_at" datetime NOT NULL,
  "last_used_at" datetime NULL
);
CREATE INDEX "doorman_token_user_id" ON "doorman_token" ("user_id");

-- JWT revocation: a per-user cut-off (tokens issued before it are refused)
-- and a denylist of refresh-token ids, purged once they would have expired.
CREATE TABLE "doorman_user_security" (
  "user_id" integer NOT NULL PRIMARY KEY REFERENCES "auth_user" ("id") ON DELETE CASCADE,
  "tokens_valid_after" datetime NOT NULL
);

CREATE TABLE "doorman_jwt_denylist" (
  "jti" varchar(64) NOT NULL PRIMARY KEY,
  "user_id" integer NULL,
  "expires_at" datetime NOT NULL
);
CREATE INDEX "doorman_jwt_denylist_expires_at" ON "doorman_jwt_denylist" ("expires_at");

-- Outgoing e-mail, written in the same transaction as the change that causes
-- it and sent by the background worker.
CREATE TABLE "doorman_outbox" (
  "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "message_id" varchar(255) NOT NULL UNIQUE,
  "kind" varchar(50) NOT NULL,
  "recipient" varchar(254) NOT NULL,
  "subject" text NOT NULL,
  "body_text" text NOT NULL,
  "body_html" text NULL,
  "status" varchar(16) NOT NULL DEFAULT 'pending',
  "attempts" integer NOT NULL DEFAULT 0,
  "next_attempt_at" datetime NOT NULL,
  "locked_until" datetime NULL,
  "last_error" text NULL,
  "created_at" datetime NOT NULL,
  "sent_at" datetime NULL
);
CREATE INDEX "doorman_outbox_due" ON "doorman_outbox" ("status", "next_attempt_at");
