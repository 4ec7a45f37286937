// The daemon's workspace services (reliant/wire/v1/workspace.proto) as plain async functions:
// MCP servers, terminals, background processes, files and git worktrees. Every call reaches the
// project's daemon through the api, NATS and its gateway. int64 fields go out as strings; bytes
// as base64.

import { toBase64 } from "./bytes.js";

const MCP = "reliant.v1.McpService";
const TERMINALS = "reliant.v1.TerminalService";
const PROCESSES = "reliant.v1.ProcessService";
const FILES = "reliant.v1.FileSystemService";
const WORKTREES = "reliant.v1.WorktreeService";

export class WorkspaceApi {
  /** @param {import("../connect.js").ConnectClient} client */
  constructor(client) {
    this.client = client;
  }

  call(service, method, request, options) {
    return this.client.unary(service, method, request, options);
  }

  // -- MCP servers ------------------------------------------------------------------------------
  listMcpServers(where) {
    return this.call(MCP, "ListMcpServers", { projectId: where.projectId, worktreeId: where.worktreeId || "" });
  }
  restartMcpServer(where, name) {
    return this.call(MCP, "RestartMcpServer", { projectId: where.projectId, worktreeId: where.worktreeId || "", name });
  }
  setMcpServerEnabled(where, name, enabled) {
    return this.call(MCP, "SetMcpServerEnabled", { projectId: where.projectId, worktreeId: where.worktreeId || "", name, enabled });
  }
  /** server: {name, command, args, env} (stdio) or {name, url, headers} (http); local: mcp.local.json. */
  addMcpServer(projectId, server, local = false) {
    return this.call(MCP, "AddMcpServer", { projectId, ...server, local });
  }

  // -- terminals ----------------------------------------------------------------------------------
  openTerminal(projectId, { chatId = "", cols = 80, rows = 24 } = {}) {
    return this.call(TERMINALS, "OpenTerminal", { projectId, chatId, cols, rows });
  }
  listTerminals(projectId) {
    return this.call(TERMINALS, "ListTerminals", { projectId }).then((r) => r.terminals || []);
  }
  /** offset null replays the kept scrollback. */
  attachTerminal(terminalId, offset, options) {
    return this.client.serverStream(TERMINALS, "AttachTerminal", { terminalId, offset: String(offset ?? -1) }, options);
  }
  sendTerminalInput(terminalId, bytes) {
    return this.call(TERMINALS, "SendTerminalInput", { terminalId, data: toBase64(bytes) });
  }
  resizeTerminal(terminalId, cols, rows) {
    return this.call(TERMINALS, "ResizeTerminal", { terminalId, cols, rows });
  }
  closeTerminal(terminalId) {
    return this.call(TERMINALS, "CloseTerminal", { terminalId });
  }

  // -- background processes ---------------------------------------------------------------------
  listProcesses(projectId, chatId = "") {
    return this.call(PROCESSES, "ListProcesses", { projectId, chatId }).then((r) => r.processes || []);
  }
  streamProcessOutput(processId, offset, options) {
    return this.client.serverStream(PROCESSES, "StreamProcessOutput", { processId, offset: String(offset || 0), follow: true }, options);
  }
  killProcess(processId) {
    return this.call(PROCESSES, "KillProcess", { processId });
  }

  // -- files (where = {projectId, worktreeId}) ---------------------------------------------------
  listDirectory(where, path, showIgnored = false, options) {
    return this.call(FILES, "ListDirectory", { ...scope(where), path, showIgnored }, options);
  }
  readFile(where, path) {
    return this.call(FILES, "ReadFile", { ...scope(where), path });
  }
  saveFile(where, path, text, baseSha256, force = false) {
    return this.call(FILES, "SaveFile", { ...scope(where), path, text, baseSha256: baseSha256 || "", force });
  }
  createPath(where, path, directory = false) {
    return this.call(FILES, "CreatePath", { ...scope(where), path, directory });
  }
  deletePath(where, path, recursive = false) {
    return this.call(FILES, "DeletePath", { ...scope(where), path, recursive });
  }
  renamePath(where, path, to) {
    return this.call(FILES, "RenamePath", { ...scope(where), path, to });
  }
  searchFiles(where, query, { content = false, regex = false, caseSensitive = false, maxResults = 200 } = {}, options = undefined) {
    return this.call(FILES, "SearchFiles", { ...scope(where), query, content, regex, caseSensitive, maxResults }, options);
  }

  // -- git worktrees ----------------------------------------------------------------------------
  createWorktree(projectId, { chatId = "", name = "", branch = "" } = {}) {
    return this.call(WORKTREES, "CreateWorktree", { projectId, chatId, name, branch });
  }
  listWorktrees(projectId, includeRemoved = false) {
    return this.call(WORKTREES, "ListWorktrees", { projectId, includeRemoved }).then((r) => r.worktrees || []);
  }
  getWorktreeStatus(worktreeId) {
    return this.call(WORKTREES, "GetWorktreeStatus", { worktreeId });
  }
  getWorktreeDiff(worktreeId) {
    return this.call(WORKTREES, "GetWorktreeDiff", { worktreeId });
  }
  removeWorktree(worktreeId, { force = false, deleteBranch = false } = {}) {
    return this.call(WORKTREES, "RemoveWorktree", { worktreeId, force, deleteBranch });
  }
  /** The project's worktrees no record names any more (a deleted chat's agents'): {orphaned, problem}. */
  listOrphanedWorktrees(projectId) {
    return this.call(WORKTREES, "ListWorktrees", { projectId, includeOrphaned: true }).then((r) => ({ orphaned: r.orphaned || [], problem: r.orphanedProblem || "" }));
  }
  removeOrphanedWorktree(projectId, orphanedPath, { force = false, deleteBranch = false } = {}) {
    return this.call(WORKTREES, "RemoveWorktree", { projectId, orphanedPath, force, deleteBranch });
  }
  detachWorktree(worktreeId) {
    return this.call(WORKTREES, "DetachWorktree", { worktreeId });
  }
  getRepository(projectId) {
    return this.call(WORKTREES, "GetRepository", { projectId });
  }
  initRepository(projectId, commit = true) {
    return this.call(WORKTREES, "InitRepository", { projectId, commit });
  }
}

function scope(where) {
  return { projectId: where.projectId, worktreeId: where.worktreeId || "" };
}
