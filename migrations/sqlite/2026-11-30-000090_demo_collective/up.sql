-- A collective made by `commonpot demo`: shown as demo data in the API and the pages.
ALTER TABLE collectives ADD COLUMN demo BOOLEAN NOT NULL DEFAULT FALSE;
