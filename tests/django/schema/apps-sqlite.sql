-- The tables Django 5.2 makes for admin, authtoken, token_blacklist, accounts, shop on sqlite, as its
-- schema editor writes them (tests/django/site/dump_schema.py).
CREATE TABLE "django_admin_log" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "action_time" datetime NOT NULL, "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "content_type_id" integer NULL REFERENCES "django_content_type" ("id") DEFERRABLE INITIALLY DEFERRED, "object_id" text NULL, "object_repr" varchar(200) NOT NULL, "action_flag" smallint unsigned NOT NULL CHECK ("action_flag" >= 0), "change_message" text NOT NULL);
CREATE TABLE "authtoken_token" ("key" varchar(40) NOT NULL PRIMARY KEY, "user_id" integer NOT NULL UNIQUE REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "created" datetime NOT NULL);
CREATE TABLE "token_blacklist_outstandingtoken" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "user_id" integer NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "jti" varchar(255) NOT NULL UNIQUE, "token" text NOT NULL, "created_at" datetime NULL, "expires_at" datetime NOT NULL);
CREATE TABLE "token_blacklist_blacklistedtoken" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "token_id" bigint NOT NULL UNIQUE REFERENCES "token_blacklist_outstandingtoken" ("id") DEFERRABLE INITIALLY DEFERRED, "blacklisted_at" datetime NOT NULL);
CREATE TABLE "accounts_provinces" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(100) NOT NULL UNIQUE, "code" varchar(10) NULL);
CREATE TABLE "accounts_userprofile" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "user_id" integer NOT NULL UNIQUE REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "phone" varchar(20) NOT NULL, "address" varchar(255) NOT NULL, "birth_date" date NULL, "profile_picture" varchar(100) NULL, "bio" text NOT NULL, "province_id" bigint NULL REFERENCES "accounts_provinces" ("id") DEFERRABLE INITIALLY DEFERRED, "created_at" datetime NOT NULL, "updated_at" datetime NOT NULL);
CREATE TABLE "accounts_userprofile_roles" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "userprofile_id" bigint NOT NULL REFERENCES "accounts_userprofile" ("id") DEFERRABLE INITIALLY DEFERRED, "group_id" integer NOT NULL REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE "shop_order" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "customer_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "total" decimal NOT NULL);
CREATE INDEX "django_admin_log_user_id_c564eba6" ON "django_admin_log" ("user_id");
CREATE INDEX "django_admin_log_content_type_id_c4bce8eb" ON "django_admin_log" ("content_type_id");
CREATE INDEX "token_blacklist_outstandingtoken_user_id_83bc629a" ON "token_blacklist_outstandingtoken" ("user_id");
CREATE INDEX "accounts_userprofile_province_id_9c6684ca" ON "accounts_userprofile" ("province_id");
CREATE UNIQUE INDEX "accounts_userprofile_roles_userprofile_id_group_id_e35914dd_uniq" ON "accounts_userprofile_roles" ("userprofile_id", "group_id");
CREATE INDEX "accounts_userprofile_roles_userprofile_id_67f33626" ON "accounts_userprofile_roles" ("userprofile_id");
CREATE INDEX "accounts_userprofile_roles_group_id_28616fe0" ON "accounts_userprofile_roles" ("group_id");
CREATE INDEX "shop_order_customer_id_f638df20" ON "shop_order" ("customer_id");
