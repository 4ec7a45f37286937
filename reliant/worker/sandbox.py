"""The workflow sandbox, without the SDK's per-payload cost.

Workflow code runs in the SDK's sandbox (the guard against non-deterministic workflow code), and
stays there. But the SDK (temporalio 1.35) enters the sandbox by compiling and executing a source
string: once per activation, and, with a payload codec, once for every payload list it encodes or
decodes, only to ask the workflow instance which serialization context that payload belongs to
(the workflow's own, an activity's, a child's). Compiling the string is most of a workflow task's
cost here (about 80 µs, several times per payload, against microseconds for the lookup itself).

`WorkflowSandbox` is the SDK's sandboxed runner with two changes that leave what runs inside the
sandbox as it was:
- each entry's source is compiled once (the SDK's strings are constant per workflow class);
- the serialization and storage contexts are asked of the in-sandbox instance directly. The lookup
  is the SDK's own code reading the instance's pending commands: it imports nothing and runs no
  workflow code, so it needs neither the sandbox's importer nor its restrictions.

`workflow_runner` also passes reliant's own modules through. The sandbox re-imports every module it
does not pass through for each new workflow run; reliant's workflow modules import everything else
of reliant passed through already, and hold constants and classes only at module level. Their
re-import was ~5 ms of every new run (a sub-agent's, say) for nothing. The sandbox's restrictions
on what workflow code calls (the clock, randomness, I/O) apply to passed-through modules alike.

Both rest on the SDK's private runner class; a release without it gets the SDK's runner unchanged.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

logger = logging.getLogger(__name__)

IN_SANDBOX = "__temporal_in_sandbox"  # where the SDK keeps the in-sandbox instance in its globals

try:
    from temporalio.worker.workflow_sandbox import _runner as sdk_runner

    _SdkInstance: Any = sdk_runner._Instance
except (ImportError, AttributeError):  # pragma: no cover - another SDK release: its runner as it is
    _SdkInstance = None


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> CodeType:
    return compile(source, "workflow_sandbox", "exec")


if _SdkInstance is not None:

    class _Instance(_SdkInstance):  # type: ignore[misc]
        def _run_code(self, code: str, **extra_globals: Any) -> None:
            super()._run_code(_compiled(code), **extra_globals)  # exec takes source or code

        def get_serialization_context(self, command_info: Any) -> Any:
            in_sandbox = self.globals_and_locals.get(IN_SANDBOX)
            if in_sandbox is None:
                return super().get_serialization_context(command_info)
            return in_sandbox.get_serialization_context(command_info)

        def get_external_store_context(self, command_info: Any) -> Any:
            in_sandbox = self.globals_and_locals.get(IN_SANDBOX)
            if in_sandbox is None:
                return super().get_external_store_context(command_info)
            return in_sandbox.get_external_store_context(command_info)


@dataclass(frozen=True)
class WorkflowSandbox(SandboxedWorkflowRunner):
    """The SDK's sandboxed runner, entering the sandbox without compiling on every payload."""

    def create_instance(self, det: Any) -> Any:
        if _SdkInstance is None:  # pragma: no cover - another SDK release
            return super().create_instance(det)
        return _Instance(det, self.runner_class, self.restrictions)


def workflow_runner() -> WorkflowRunner:
    return WorkflowSandbox(restrictions=SandboxRestrictions.default.with_passthrough_modules("reliant"))
