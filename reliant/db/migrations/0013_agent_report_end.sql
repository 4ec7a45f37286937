-- An agent's spawner holds its child workflow's handle and learns of its end from Temporal. Once the
-- spawner continues as new it holds no handle: it sets report_end on the agents still running, and
-- each tells it when it ends (the row lock orders that against the agent's own end).
ALTER TABLE agents ADD COLUMN report_end boolean NOT NULL DEFAULT false;
