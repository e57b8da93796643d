-- One certificate per request, however often the request is retried: a retried token exchange
-- (its first answer lost) or a re-run issuance (its worker killed) finds the certificate issued the
-- first time under the same key and answers with it, instead of signing a second one.
ALTER TABLE certificates ADD COLUMN issuance_key text UNIQUE;
-- Certificates are public; keeping them lets a retried request be answered with the same one.
ALTER TABLE certificates ADD COLUMN pem text;
