-- The content types and the standard add/change/delete/view permissions,
-- named as Django names them, so `app_label.codename` checks (e.g.
-- auth.view_user) work the same in doorman and in Django. Idempotent, so
-- an adopted Django database keeps its existing rows and ids.

INSERT INTO "django_content_type" ("app_label", "model") VALUES
  ('contenttypes', 'contenttype'),
  ('auth', 'permission'),
  ('auth', 'group'),
  ('auth', 'user'),
  ('accounts', 'profile'),
  ('accounts', 'province')
ON CONFLICT ("app_label", "model") DO NOTHING;

WITH "p"("app_label", "model", "codename", "name") AS (VALUES
  ('contenttypes', 'contenttype', 'add_contenttype', 'Can add content type'),
  ('contenttypes', 'contenttype', 'change_contenttype', 'Can change content type'),
  ('contenttypes', 'contenttype', 'delete_contenttype', 'Can delete content type'),
  ('contenttypes', 'contenttype', 'view_contenttype', 'Can view content type'),
  ('auth', 'permission', 'add_permission', 'Can add permission'),
  ('auth', 'permission', 'change_permission', 'Can change permission'),
  ('auth', 'permission', 'delete_permission', 'Can delete permission'),
  ('auth', 'permission', 'view_permission', 'Can view permission'),
  ('auth', 'group', 'add_group', 'Can add group'),
  ('auth', 'group', 'change_group', 'Can change group'),
  ('auth', 'group', 'delete_group', 'Can delete group'),
  ('auth', 'group', 'view_group', 'Can view group'),
  ('auth', 'user', 'add_user', 'Can add user'),
  ('auth', 'user', 'change_user', 'Can change user'),
  ('auth', 'user', 'delete_user', 'Can delete user'),
  ('auth', 'user', 'view_user', 'Can view user'),
  ('accounts', 'profile', 'add_profile', 'Can add profile'),
  ('accounts', 'profile', 'change_profile', 'Can change profile'),
  ('accounts', 'profile', 'delete_profile', 'Can delete profile'),
  ('accounts', 'profile', 'view_profile', 'Can view profile'),
  ('accounts', 'province', 'add_province', 'Can add province'),
  ('accounts', 'province', 'change_province', 'Can change province'),
  ('accounts', 'province', 'delete_province', 'Can delete province'),
  ('accounts', 'province', 'view_province', 'Can view province'))
INSERT INTO "auth_permission" ("name", "content_type_id", "codename")
SELECT "p"."name", "ct"."id", "p"."codename" FROM "p"
JOIN "django_content_type" "ct" ON "ct"."app_label" = "p"."app_label" AND "ct"."model" = "p"."model"
WHERE true
ON CONFLICT ("content_type_id", "codename") DO NOTHING;
