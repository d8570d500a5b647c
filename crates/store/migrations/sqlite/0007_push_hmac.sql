-- An optional shared secret per push source: pushes may then be signed with HMAC-SHA256 over the
-- body instead of sending the bearer token. Unlike the token (kept as its SHA-256), the secret
-- must be stored as is to check signatures; it is set only when the operator asks for it.
ALTER TABLE sources ADD COLUMN push_hmac_secret TEXT;
