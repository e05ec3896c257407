"""The ADF / Synapse executor alone against the simulator: Synapse reruns from the failed activity, a rerun made by
hand in the same run group is adopted, and the registry finds executors by platform."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from remediation.executors import NoExecutor, executor_for
from remediation.executors.base import Outcome, Seen
from shared.models import Incident
from shared.timeutil import utc_now
from tests.support.fixtures_platforms import FACTORY_ID, SUB, contoso_factory, sim_settings
from tools.simulators.adf import AdfSimulator


def incident_of(platform: str, resource: str, pipeline: str, run_id: str) -> Incident:
    return Incident(id="i1", source="azure-monitor", platform=platform, resource=resource, pipeline=pipeline,
                    run_id=run_id, status="open", occurrences=1, first_seen="", last_seen="")


def test_synapse_reruns_from_the_failed_activity_found_in_its_activity_runs() -> None:
    with AdfSimulator() as sim:
        workspace = sim.add_workspace("contoso-syn", subscription=SUB, resource_group="pipelines-rg")
        workspace.rerun_seconds = 0.2
        run = workspace.add_failed_run("LoadSales", "timeout", activity="Load fact", start=utc_now() -
                                       timedelta(minutes=5))
        settings = sim_settings(SYNAPSE_ENDPOINT=sim.synapse_endpoint_template())
        executor = executor_for("synapse", settings)
        incident = incident_of("synapse", workspace.resource_id, "LoadSales", run.run_id)
        submission = executor.submit(incident, "synapse.rerun_from_activity", 1)
        call = workspace.created_runs[0]
        assert call["startActivityName"] == "Load fact" and call["isRecovery"] == "true"
        assert call["referencePipelineRunId"] == run.run_id and "startFromFailure" not in call
        time.sleep(0.3)
        assert executor.check(incident, submission.run_ref).outcome is Outcome.SUCCEEDED


def test_a_rerun_made_by_hand_is_adopted_and_an_unknown_start_is_reconciled() -> None:
    with AdfSimulator() as sim:
        factory = contoso_factory(sim)
        factory.rerun_seconds = 60
        failed = factory.add_failed_run("LoadOrders", "boom", start=utc_now() - timedelta(minutes=5))
        executor = executor_for("adf", sim_settings(ARM_ENDPOINT=sim.url))
        incident = incident_of("adf", FACTORY_ID, "LoadOrders", failed.run_id)
        assert executor.look(incident, "adf.rerun_from_failure").seen is Seen.CLEAR
        since = utc_now().isoformat()
        assert executor.reconcile(incident, "adf.rerun_from_failure", 1, since) is None
        # Someone clicks "Rerun from failed activity" in the portal.
        manual = executor.submit(incident, "adf.rerun_from_failure", 1)
        seen = executor.look(incident, "adf.rerun_from_failure")
        assert seen.seen is Seen.ADOPT and seen.run_ref["run_id"] == manual.run_ref["run_id"]
        found = executor.reconcile(incident, "adf.rerun_from_failure", 1, since)
        assert found is not None and found.run_ref["run_id"] == manual.run_ref["run_id"]
        assert executor.check(incident, manual.run_ref).outcome is Outcome.RUNNING


def test_the_registry_refuses_unknown_platforms() -> None:
    for platform in ("functions", "../adf", ""):
        with pytest.raises(NoExecutor):
            executor_for(platform, sim_settings())
