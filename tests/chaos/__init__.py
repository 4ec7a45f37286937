"""The random-kill chaos run (scripts/chaos.py) in parts, shared with its CI sample
(tests/e2e/test_chaos.py):

  plan.py         what the seed decides: which piece is hit, when and how; the scripted chats
  processes.py    processes as the operating system sees them: start, signal, find, orphans
  deployments.py  `reliant up`, or the split roles and services, and how each piece is hit and revived
  client.py       the api as a client uses it: REST for chats and messages, StreamUpdates live and from 0
  checks.py       what must hold after each hit, as violations
  rounds.py       one round: chats start, the piece is hit and comes back, the chats are checked
  tally.py        per victim: the hits that landed and those that missed, violations, recovery times
"""
