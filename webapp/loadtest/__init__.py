"""`livepolls loadtest URL`: an operator's capacity check against their own deployment.

It creates a poll of its own on the deployment, opens viewers on that poll's live WebSocket
(in child processes, `webapp.loadtest.viewers`), sends votes at a set rate through invite-code
voters for a set time, and reports what matters: how long a vote takes to reach the last
viewer, the votes accepted per second, the votes' HTTP latency and every error by kind. Then it
deletes the poll. Nothing here is imported by the server: it needs httpx and websockets, the
`livepolls[loadtest]` extra.
"""
