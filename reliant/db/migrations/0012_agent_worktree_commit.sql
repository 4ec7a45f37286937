-- The commit that merged an agent's worktree (a workflow's `worktree` node or the user's merge), kept
-- so a merge recorded once is reported, never made again.
ALTER TABLE agents ADD COLUMN worktree_commit text NOT NULL DEFAULT '';
