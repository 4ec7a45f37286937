"""A run's state crosses Temporal's data converter (continue-as-new) and the run goes on from it."""

from __future__ import annotations

from temporalio.converter import DataConverter

from reliant.engine import ChatInfo, NodeStatus, Run, RunState
from tests.engine.driver import definition, drive, outputs
from tests.engine.test_run import PARALLEL, TDD


def _through_temporal(state: RunState) -> RunState:
    converter = DataConverter.default.payload_converter
    [back] = converter.from_payloads(converter.to_payloads([state]), [RunState])
    assert isinstance(back, RunState)
    return back


def test_state_survives_the_data_converter_mid_loop_and_the_run_goes_on() -> None:
    d = definition(TDD)
    run = Run.start(d, {"rounds": 4}, ChatInfo(id="c1", mode="manual"))
    for exit_code in (1, 1):  # two failing iterations, then carry the state over
        [implement] = run.take_ready()
        run.finish(implement, outputs(implement, text="x"))
        [check] = run.take_ready()
        run.finish(check, outputs(check, exit_code=exit_code, stdout="1.5 failed"))
    [implement] = run.take_ready()  # handed out, still running when the run continues as new
    carried = _through_temporal(run.state)
    assert carried == run.state
    assert carried.nodes["fix"].status is NodeStatus.RUNNING
    assert carried.nodes["fix"].previous == {
        "implement": outputs(implement, text="x"),
        "check": {"exit_code": 1, "stdout": "1.5 failed", "stderr": ""},
    }

    resumed = Run.resume(d, carried)
    assert resumed.running() == [implement]  # to be started again, with the same key
    assert resumed.running()[0].key() == "main:fix[2]/implement#0"
    resumed.finish(implement, outputs(implement))
    drive(resumed)
    assert resumed.outputs() == {"passed": True, "iterations": 3}


def test_state_survives_mid_parallel() -> None:
    d = definition(PARALLEL.replace("JOIN", "all"))
    run = Run.start(d, {})
    by = {t.node.id: t for t in run.take_ready()}
    run.finish(by["tst"], outputs(by["tst"]))
    resumed = Run.resume(d, _through_temporal(run.state))
    assert sorted(t.instance for t in resumed.running()) == ["reviews/security/sec", "reviews/style/sty"]
    for task in resumed.running():
        resumed.finish(task, outputs(task))
    drive(resumed)
    assert resumed.outputs()["done"] == ["tests", "security", "style"]
