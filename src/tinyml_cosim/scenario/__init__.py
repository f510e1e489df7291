"""Scenario files: board, firmware, sensors with signal and impairment chains, and a labelled timeline.

from tinyml_cosim.scenario import load_scenario
streams = load_scenario("tests/data/scenarios/valid/pump_bearing.yaml").generate(seed=7)
"""

from tinyml_cosim.scenario.load import load_scenario, problems, scenario_from_dict
from tinyml_cosim.scenario.model import Scenario

__all__ = ["Scenario", "load_scenario", "problems", "scenario_from_dict"]
