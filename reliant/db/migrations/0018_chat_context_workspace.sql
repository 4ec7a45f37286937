-- A context snapshot per chat AND workspace: a chat's sub-agents in worktrees of their own make their
-- model calls side by side in other directories, and one snapshot per chat was re-taken (and the
-- system prompt changed) on nearly every call. A row so far is the workspace its snapshot names.
ALTER TABLE chat_contexts ADD COLUMN workspace text;
UPDATE chat_contexts SET workspace = coalesce(snapshot ->> 'workspace', '');
ALTER TABLE chat_contexts ALTER COLUMN workspace SET NOT NULL;
ALTER TABLE chat_contexts DROP CONSTRAINT chat_contexts_pkey;
ALTER TABLE chat_contexts ADD PRIMARY KEY (chat_id, workspace);
