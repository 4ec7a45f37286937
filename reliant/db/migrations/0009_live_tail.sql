-- The answer being streamed (message_started, block_started, block_delta) no longer goes to the
-- log: it streams through each chat's live tail in JetStream and leaves no row. Drop the rows that
-- earlier versions kept forever (one per token); the stored messages hold all of their content.
DELETE FROM chat_updates WHERE kind IN ('message_started', 'block_started', 'block_delta');
