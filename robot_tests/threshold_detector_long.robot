*** Settings ***
Documentation       Long tier: several seeds, more sensor faults, and one board shared by the whole suite
...                 (``scope=suite``). Skipped when the configured engine is not installed.
Library             tinyml_cosim.robot    scope=suite
Suite Setup         Run Keywords    Skip If Engine Unavailable    AND    Start Board
Suite Teardown      Stop Board
Test Tags           long    threshold_detector

*** Variables ***
${SCENARIO}         ${CURDIR}/scenarios/shake.yaml

*** Test Cases ***
Five Seeds Meet The Expectations
    Load Scenario    ${SCENARIO}
    Run Scenario    seeds=5
    Scenario Should Pass
    Accuracy Should Be At Least    0.9
    Worst Case Inference Should Be Within    1 ms

Detector Survives Light Bit Flips
    Load Scenario    ${SCENARIO}
    Inject Fault    bit_flip    accel    start=0 s    probability=0.001
    Run Scenario
    Accuracy Should Be At Least    0.8

Held Samples During Shaking Still Detect It
    Load Scenario    ${SCENARIO}
    Inject Fault    dropout    accel    start=2.5 s    duration=1 s    rate=0.3    mode=hold
    Wait For Decision    shaking    within=3 s

Disconnected Sensor Reads As Idle
    Load Scenario    ${SCENARIO}
    Inject Fault    disconnect    accel    start=1 s    reads=zero
    Run For Simulated Time    5 s
    Decision Should Be    idle

Debug Server Starts Halted And Stops With The Board
    Start Board    app=threshold_detector
    ${port}=    Start Debug Server
    Should Be True    0 < ${port} < 65536
    Stop Board
    Start Board
