"""Moved to the one test harness: ``harness.agents`` (servers: ``harness.servers``).

Kept only so that branches written before the move still import; new tests
import ``harness`` directly. Remove once no branch in flight uses it.
"""

from harness.agents import Admin, AgentThread, agent_config, running_agent, wait_for
from harness.net import free_port
from harness.servers import ServerProc as Server
from harness.servers import running as running_server

__all__ = [
    "Admin",
    "AgentThread",
    "Server",
    "agent_config",
    "free_port",
    "running_agent",
    "running_server",
    "wait_for",
]
