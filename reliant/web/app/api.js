// The reliant.v1 ConnectRPC services as plain async functions (JSON field names are lowerCamelCase,
// int64 fields arrive as strings).

import { ConnectClient } from "./connect.js";

const PROJECTS = "reliant.v1.ProjectService";
const CHATS = "reliant.v1.ChatService";
const SYSTEM = "reliant.v1.SystemService";
const SETTINGS = "reliant.v1.SettingsService";
const APPROVALS = "reliant.v1.ApprovalService";
const QUESTIONS = "reliant.v1.QuestionService";
const WORKFLOWS = "reliant.v1.WorkflowService";
const DIRECTORIES = "reliant.v1.DirectoryService";
const AGENTS = "reliant.v1.AgentService";

export class Api {
  constructor(client = new ConnectClient("")) {
    this.client = client;
  }

  // projects
  listProjects() {
    return this.client.unary(PROJECTS, "ListProjects", {}).then((r) => r.projects || []);
  }
  createProject(path, name = "", daemonId = "") {
    return this.client.unary(PROJECTS, "CreateProject", { path, name, daemonId });
  }
  getProject(id) {
    return this.client.unary(PROJECTS, "GetProject", { id });
  }

  // chats
  listChats(projectId = "") {
    return this.client.unary(CHATS, "ListChats", { projectId }).then((r) => r.chats || []);
  }
  getChat(id, options) {
    return this.client.unary(CHATS, "GetChat", { id }, options);
  }
  /** workflow: a workflow's name ("" for agent); inputs: its typed inputs ({} or null for none). */
  createChat(projectId, model = "", title = "", workflow = "", inputs = null) {
    const request = { projectId, model, title };
    if (workflow) request.workflow = workflow;
    if (inputs && Object.keys(inputs).length) request.inputs = inputs;
    return this.client.unary(CHATS, "CreateChat", request);
  }
  renameChat(id, title) {
    return this.client.unary(CHATS, "RenameChat", { id, title });
  }
  deleteChat(id) {
    return this.client.unary(CHATS, "DeleteChat", { id });
  }
  /** images: [{ mediaType, data (base64) }], pasted or dropped into the composer. */
  sendMessage(chatId, text, model = "", images = []) {
    return this.client.unary(CHATS, "SendMessage", { chatId, text, model, images });
  }
  /** agentId: one sub-agent's messages (without: the chat's own, its sub-agents' left out). */
  listMessages(chatId, options, agentId = "") {
    return this.client.unary(CHATS, "ListMessages", agentId ? { chatId, agentId } : { chatId }, options);
  }
  cancelChat(chatId) {
    return this.client.unary(CHATS, "CancelChat", { chatId });
  }
  resumeChat(chatId) {
    return this.client.unary(CHATS, "ResumeChat", { chatId });
  }
  listModels() {
    return this.client.unary(CHATS, "ListModels", {});
  }
  streamUpdates(chatId, sinceSeq, options) {
    return this.client.serverStream(CHATS, "StreamUpdates", { chatId, sinceSeq: String(sinceSeq) }, options);
  }

  // control of a running chat, approvals and questions (chatId "" lists every chat's)
  pauseChat(chatId) {
    return this.client.unary(CHATS, "PauseChat", { chatId });
  }
  interruptChat(chatId, text) {
    return this.client.unary(CHATS, "InterruptChat", { chatId, text });
  }
  setMode(chatId, mode) {
    return this.client.unary(CHATS, "SetMode", { chatId, mode });
  }
  listPendingApprovals(chatId = "") {
    return this.client.unary(APPROVALS, "ListPendingApprovals", { chatId }).then((r) => r.approvals || []);
  }
  approve(approvalId, scope = "", commandPrefix = "") {
    return this.client.unary(APPROVALS, "Approve", { approvalId, scope, commandPrefix });
  }
  deny(approvalId, message = "") {
    return this.client.unary(APPROVALS, "Deny", { approvalId, message });
  }
  /** A workflow's approval node: one of its choices, and a note it reads. */
  choose(approvalId, choice, note = "") {
    return this.client.unary(APPROVALS, "Choose", { approvalId, choice, note });
  }
  listPendingQuestions(chatId = "") {
    return this.client.unary(QUESTIONS, "ListPendingQuestions", { chatId }).then((r) => r.questions || []);
  }
  answerQuestion(questionId, answers) {
    return this.client.unary(QUESTIONS, "AnswerQuestion", { questionId, answers });
  }

  // workflows (projectId "" for the built-ins alone)
  listWorkflows(projectId = "") {
    return this.client.unary(WORKFLOWS, "ListWorkflows", { projectId });
  }
  getWorkflow(name, projectId = "") {
    return this.client.unary(WORKFLOWS, "GetWorkflow", { projectId, name });
  }
  validateWorkflow(text, projectId = "", name = "") {
    return this.client.unary(WORKFLOWS, "ValidateWorkflow", { text, projectId, name });
  }
  saveWorkflow(projectId, text, name = "") {
    return this.client.unary(WORKFLOWS, "SaveWorkflow", { projectId, text, name });
  }
  listRuns(chatId, limit = 0) {
    return this.client.unary(WORKFLOWS, "ListRuns", { chatId, limit }).then((r) => r.runs || []);
  }

  // a chat's sub-agents
  listAgents(chatId) {
    return this.client.unary(AGENTS, "ListAgents", { chatId });
  }
  getAgent(chatId, agentId) {
    return this.client.unary(AGENTS, "GetAgent", { chatId, agentId });
  }
  getAgentDiff(chatId, agentId) {
    return this.client.unary(AGENTS, "GetAgentDiff", { chatId, agentId });
  }
  setWorktree(chatId, agentId, action, { force = false } = {}) {
    return this.client.unary(AGENTS, "SetWorktree", { chatId, agentId, action, force });
  }

  // system and settings
  getStatus() {
    return this.client.unary(SYSTEM, "GetStatus", {});
  }
  getSettings() {
    return this.client.unary(SETTINGS, "GetSettings", {});
  }
  updateSettings(changes) {
    return this.client.unary(SETTINGS, "UpdateSettings", changes);
  }
  /** What a model field suggests: recent models, then each configured provider's list. */
  listModelChoices(refresh = false) {
    return this.client.unary(SETTINGS, "ListModelChoices", { refresh });
  }

  // the daemon's machine: directories a project could be in
  listDirectories(path = "", { daemonId = "", showHidden = false } = {}) {
    return this.client.unary(DIRECTORIES, "ListDirectories", { path, daemonId, showHidden });
  }
}
