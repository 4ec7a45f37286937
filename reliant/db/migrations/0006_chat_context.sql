-- What a chat's agent was told about its project and machine: the environment and the instruction
-- files in effect (domain/context.py ChatContext as JSON). Taken at the chat's first model call and
-- kept, so the system prompt stays the same from turn to turn (and the provider's cache holds).
CREATE TABLE chat_contexts (
    chat_id     uuid PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    snapshot    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
