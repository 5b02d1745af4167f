-- The lockout generation moves from the user to the login as typed
-- (lower-cased, as the failed-login budget keys it): a login that names no
-- account and one that does then ask for their generation the same way,
-- so a budget's reset after an unlock tells nothing about which names
-- exist. Clearing a user's lockouts bumps the generation of their username
-- and of their e-mail address.
DROP TABLE "doorman_lockout_generation";
CREATE TABLE "doorman_login_generation" (
  "login" varchar(254) NOT NULL PRIMARY KEY,
  "generation" integer NOT NULL
);
