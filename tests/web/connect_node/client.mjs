// Drives reliant's ConnectRPC services with @connectrpc/connect-node, a client we did not write.
//
//   node client.mjs DESCRIPTORS.pb BASE_URL TOKEN PROJECT_PATH MODEL TEXT
//
// The service and message types come from a FileDescriptorSet built from reliant's .proto files
// at test time (no generated code is committed). Unary calls go out in the binary protobuf codec,
// ListModels once more in JSON; the chat is then followed with StreamUpdates until the chat is idle
// again. Prints one JSON document with what it saw.

import { readFileSync } from "node:fs";
import { create, createFileRegistry, fromBinary, toJson } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

const [descriptorPath, baseUrl, token, projectPath, model, text] = process.argv.slice(2);

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath)));
const ChatService = registry.getService("reliant.v1.ChatService");
const ProjectService = registry.getService("reliant.v1.ProjectService");
const ChatUpdate = registry.getMessage("reliant.v1.ChatUpdate");

const auth = (next) => async (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
const binary = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors: [auth] });
const json = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors: [auth] });

const chats = createClient(ChatService, binary);
const projects = createClient(ProjectService, binary);
const out = {};
const step = (name) => process.stderr.write(`step: ${name}\n`);

step("ListModels");
const models = await createClient(ChatService, json).listModels({});
out.models = models.models;
out.defaultModel = models.defaultModel;

step("CreateProject");
const project = await projects.createProject({ path: projectPath });
out.project = { id: project.id, path: project.path };
step("CreateChat");
const chat = await chats.createChat({ projectId: project.id, model });
out.chat = { id: chat.id, status: chat.status, model: chat.model };

try {
  await chats.getChat({ id: "not-a-uuid" });
  out.badRequest = "no error";
} catch (err) {
  out.badRequest = { code: err.code, rawMessage: err.rawMessage };
}

step("StreamUpdates");
const controller = new AbortController();
const kinds = [];
const toolsFinished = [];
let answer = "";
let sent = null;
let idle = false;
const timer = setTimeout(() => controller.abort(), 60_000);
try {
  for await (const update of chats.streamUpdates({ chatId: chat.id, sinceSeq: 0n }, { signal: controller.signal })) {
    const doc = toJson(ChatUpdate, update, { registry });
    kinds.push(update.kind);
    process.stderr.write(`${update.seq} ${update.kind} ${JSON.stringify(doc.payload || {}).slice(0, 160)}\n`);
    if (update.kind === "stream_ready" && sent === null) {
      sent = await chats.sendMessage({ chatId: chat.id, text });
    }
    if (update.kind === "tool_finished") toolsFinished.push([doc.payload.tool_name, doc.payload.status]);
    if (update.kind === "message_completed") {
      answer = doc.payload.message.blocks.filter((b) => b.type === "text").map((b) => b.text).join("");
    }
    if (update.kind === "chat_status" && doc.payload.status === "idle") {
      // End the call the way a client means to: an abort closes its connection. (Only leaving the
      // loop can leave the HTTP/1.1 connection open, and the next call queued behind it.)
      idle = true;
      controller.abort();
    }
  }
} catch (err) {
  if (!(idle && err.code === Code.Canceled)) throw err;
} finally {
  clearTimeout(timer);
}
step("stream done");
out.sent = sent && { messageId: sent.messageId, seq: Number(sent.seq) };
out.kinds = kinds;
out.toolsFinished = toolsFinished;
out.answer = answer;
step("ListMessages");
const listed = await chats.listMessages({ chatId: chat.id });
out.messages = listed.messages.map((m) => ({ role: m.role, turn: m.turn, blocks: m.blocks.map((b) => b.type) }));
out.resumeSeq = Number(listed.resumeSeq);
console.log(JSON.stringify(out));
