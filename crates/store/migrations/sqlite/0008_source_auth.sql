-- How a polled source authenticates (basic:USER:PASSWORD, bearer:TOKEN or header:NAME:VALUE).
-- A fetch needs the secret itself, so it is stored as given; it is never shown or logged.
ALTER TABLE sources ADD COLUMN auth TEXT;
