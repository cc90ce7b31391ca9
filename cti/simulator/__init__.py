"""A PBX simulator speaking AMI like Asterisk 22, built from recorded transcripts.

``PBXSimulator`` serves AMI on TCP and plays call scenarios (``SCENARIOS``) whose events are
slices of real Asterisk 22.10.1 transcripts (``templates/``) with the call-specific ids, numbers
and names renumbered; ``run_traffic`` makes demo traffic of them. ``python -m cti.simulator``
runs it on its own.
"""

from cti.simulator.calls import CallRun, ScenarioResult
from cti.simulator.scenarios import SCENARIOS, ScenarioError
from cti.simulator.server import PBXSimulator
from cti.simulator.templates import TemplateError, load_template

__all__ = [
    "SCENARIOS",
    "CallRun",
    "PBXSimulator",
    "ScenarioError",
    "ScenarioResult",
    "TemplateError",
    "load_template",
]
