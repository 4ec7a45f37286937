-- The daemon run (its boot id) a tool call was sent to. A daemon that answers "no record of this
-- call" with the same boot id never received it, so the call is sent again instead of being
-- reported interrupted; a different boot id means the daemon restarted while the call was out.
ALTER TABLE tool_executions ADD COLUMN daemon_boot text NOT NULL DEFAULT '';
