"""The deploy engine: pull, recreate or restart containers without ever losing one."""

from .events import DeployEvent, DeployResult, Emit
from .runner import Deployer, DeployPlan
from .swap import Timing

__all__ = ["DeployEvent", "DeployPlan", "DeployResult", "Deployer", "Emit", "Timing"]
