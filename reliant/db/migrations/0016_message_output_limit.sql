-- The output limit (max_tokens) an answer's model call was made with: an answer that limit cut
-- short says which limit it was (with its stop_reason, read back for clients). 0: not known.
ALTER TABLE messages ADD COLUMN output_limit integer NOT NULL DEFAULT 0;
