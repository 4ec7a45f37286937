-- What a cancel could not stop because the chat's daemon was unreachable: the tool call it was
-- running (kind 'tool') or the background processes the cancelled run's calls started ('background',
-- by the call that started them). The worker stops them when the daemon is back, then deletes the
-- rows. No foreign key to chats: a deleted chat's processes still run on the daemon.
CREATE TABLE owed_stops (
    daemon_id   text NOT NULL,
    chat_id     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('tool', 'background')),
    call_key    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (daemon_id, chat_id, kind, call_key)
);
