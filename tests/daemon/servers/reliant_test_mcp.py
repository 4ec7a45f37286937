"""A small MCP server for tests, built with the SDK's MCPServer: python reliant_test_mcp.py
[--marker FILE] [--http PORT]; with --marker it appends its pid to FILE as it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ImageContent, TextContent, ToolAnnotations

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # 1x1 PNG

app = MCPServer("reliant-test")


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool(name="weird.name/tool", annotations=ToolAnnotations(readOnlyHint=True))
def weird() -> str:
    """A tool whose name needs sanitizing."""
    return "weird"


@app.tool()
def crash(code: int = 3) -> str:
    """Exit the server process at once, in the middle of the call."""
    sys.stderr.write("test server: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(code)


@app.tool()
def fail(message: str = "boom") -> str:
    """Report an error."""
    raise ValueError(message)


@app.tool()
def slow(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return f"slept {seconds}"


@app.tool()
def spawn_child() -> int:
    """Start a long sleep in the background and return its pid (for orphan counting)."""
    child = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return child.pid


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def env(name: str) -> str:
    """The value of an environment variable of the server ('' if unset)."""
    return os.environ.get(name, "")


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def header(name: str, ctx: Context) -> str:
    """The value of a header of this HTTP request ('' if absent or not over HTTP)."""
    return (ctx.headers or {}).get(name.lower(), "")


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def screenshot() -> list[TextContent | ImageContent]:
    """A caption and a tiny PNG image."""
    return [TextContent(type="text", text="a red pixel"), ImageContent(type="image", data=PIXEL, mime_type="image/png")]


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--marker":  # proof that this command ran
        with open(sys.argv[2], "a") as marker:
            marker.write(f"{os.getpid()}\n")
        del sys.argv[1:3]
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        app.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run()
