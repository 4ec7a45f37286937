-- Where an agent's worktree was made from and is merged into: its spawner's workspace when that is a
-- worktree of the project (the chat's own, or the parent agent's); '' for the project's checkout.
ALTER TABLE agents ADD COLUMN merge_into text NOT NULL DEFAULT '';
