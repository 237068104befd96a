-- The language a participant's link opens in (fi, sv, en, se); NULL lets the browser decide.
ALTER TABLE participants ADD COLUMN language TEXT
    CHECK (language IS NULL OR language IN ('fi', 'sv', 'en', 'se'));
