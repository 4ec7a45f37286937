"""The workflow engine's runtime: runs definitions (reliant.engine) durably inside Temporal workflows.

- interpreter.py  drives one run: a coroutine per task, node states for clients, continue-as-new
- nodes/          one executor per node kind (the dispatch table is nodes.EXECUTORS)
- host.py         a node's steps (activities that pause the run on failure) and safe points
- control.py      what the user's signals and answers change: cancel, pause, mode, gates
- lifecycle.py    a run's start (definition pinned by an activity) and end
- cursor.py       what continues as new: the pinned definition, the run's state, nodes' progress

The workflows that use it: ChatWorkflow (reliant/worker/chat_workflow.py: a run per message) and
WorkflowRun (reliant/worker/run_workflow.py: a `workflow` node's child run).
"""
