*** Settings ***
Documentation       Fast tier: the threshold detector on its accelerometer scenario — normal operation, a fault
...                 injected into the sensor, and the budgets. Board and engine come from the command line
...                 (``--variable ENGINE:renode``); the suite is skipped when that engine is not installed.
Library             tinyml_cosim.robot
Suite Setup         Skip If Engine Unavailable
Test Setup          Start Board
Test Teardown       Stop Board
Test Tags           fast    threshold_detector

*** Variables ***
${SCENARIO}         ${CURDIR}/scenarios/shake.yaml

*** Test Cases ***
Detects Shaking Within Half A Second Of Its Start
    Load Scenario    ${SCENARIO}
    Run For Simulated Time    2 s
    Decision Should Be    idle
    ${t}=    Wait For Decision    shaking    within=1 s
    Should Be True    2.0 < ${t} <= 2.5
    Run For Simulated Time    2.5 s
    Decision Should Be    idle

Normal Operation Meets The Scenario's Expectations
    Load Scenario    ${SCENARIO}
    Run Scenario
    Scenario Should Pass
    Accuracy Should Be At Least    90 %
    False Alarms Per Hour Should Be At Most    1
    Console Should Contain    BOOT app=threshold_detector

Stuck Sensor During The Shaking Hides The Event
    Load Scenario    ${SCENARIO}
    Inject Fault    stuck_at    accel    start=1.5 s    duration=3 s
    Run Keyword And Expect Error    *No 'shaking' decision within 5 s*
    ...    Wait For Decision    shaking    within=5 s
    Run Scenario
    Run Keyword And Expect Error    Accuracy * is below the required 90.0 %*
    ...    Accuracy Should Be At Least    0.9

Inference Time And Memory Fit The Board
    Load Scenario    ${SCENARIO}
    Run Scenario
    Worst Case Inference Should Be Within    1 ms
    Flash Usage Should Be Below    64 KiB
    RAM Usage Should Be Below    32 KiB
    Stack High Water Mark Should Be Below    2 KiB
