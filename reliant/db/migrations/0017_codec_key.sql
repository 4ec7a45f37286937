-- The fingerprint of the Temporal codec key (a keyed hash of a constant, never the key): one row,
-- written by the first role that uses a key. A later start with another key (a lost key file, a
-- replica given a different one) is refused, instead of every sealed payload becoming unreadable.
CREATE TABLE codec_key (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    key_id       text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
