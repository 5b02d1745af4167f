-- `doorman import-django`: a fingerprint of each row as it was copied, so
-- that a later run can tell a row changed in doorman since (which it must
-- not overwrite) from one that only changed in Django (which it brings up
-- to date). `kind` is the kind of row ("users", "groups", …).
CREATE TABLE "doorman_import_row" (
  "kind" varchar(40) NOT NULL,
  "id" bigint NOT NULL,
  "fingerprint" char(64) NOT NULL,
  PRIMARY KEY ("kind", "id")
);
