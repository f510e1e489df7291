*** Settings ***
Documentation       Predictive maintenance (firmware/apps/vibration_monitor): a LIS2DW12 on a pump's bearing housing,
...                 1600 Hz, 320 ms windows. Normal operation, a bearing fault, imbalance, an untrained condition
...                 (anomaly), sensor faults (stuck and missing injected from the suite, saturation from a scenario),
...                 slow drift, and the budgets. Scenarios: scenarios/vibration/. Skipped when the configured engine
...                 is not installed.
Library             tinyml_cosim.robot
Suite Setup         Skip If Engine Unavailable
Test Setup          Start Board
Test Teardown       Stop Board
Test Tags           vibration_monitor

*** Variables ***
${SCENARIOS}        ${CURDIR}/../../scenarios/vibration

*** Test Cases ***
Normal Operation Then A Bearing Fault Raises The Alarm
    [Documentation]    Normal until the outer-race defect starts at 8 s; "bearing_fault" within three windows.
    [Tags]    fast
    Load Scenario    ${SCENARIOS}/bearing_fault.yaml
    Run For Simulated Time    7.5 s
    Decision Should Be    normal
    ${t}=    Wait For Decision    bearing_fault    within=2 s
    Should Be True    8.0 < ${t} <= 9.1
    Console Should Contain    alarm_relay

Stuck Sensor Is A Sensor Fault Within Two Windows
    [Documentation]    A stuck_at injected at 3 s into normal operation: "sensor_fault" within 640 ms.
    [Tags]    fast
    Load Scenario    ${SCENARIOS}/normal.yaml
    Inject Fault    stuck_at    accel    start=3 s    duration=2 s
    Run For Simulated Time    3 s
    Decision Should Be    normal
    ${t}=    Wait For Decision    sensor_fault    within=0.64 s
    Should Be True    3.0 < ${t} <= 3.64

Sensor That Stops Delivering Is A Sensor Fault
    Load Scenario    ${SCENARIOS}/normal.yaml
    Inject Fault    dropout    accel    start=4 s    duration=2 s    rate=1.0    mode=missing
    Run For Simulated Time    4 s
    ${t}=    Wait For Decision    sensor_fault    within=0.64 s
    Should Be True    4.0 < ${t} <= 4.64

Saturated Sensor Is A Sensor Fault Within Two Windows
    [Documentation]    The accelerometer clips at its full scale from 6 s (scenarios/vibration/sensor_saturated.yaml).
    Load Scenario    ${SCENARIOS}/sensor_saturated.yaml
    Run For Simulated Time    6 s
    Decision Should Be    normal
    ${t}=    Wait For Decision    sensor_fault    within=0.64 s
    Should Be True    6.0 < ${t} <= 6.64

A Condition Never Trained Raises The Anomaly State
    [Documentation]    Mechanical looseness (a comb of shaft orders) from 8 s: no class fits, the anomaly score does.
    Load Scenario    ${SCENARIOS}/anomaly_looseness.yaml
    Run Scenario
    Scenario Should Pass

Imbalance Is Detected And Stays Detected
    Load Scenario    ${SCENARIOS}/imbalance.yaml
    Run Scenario
    Scenario Should Pass
    Accuracy Should Be At Least    0.9
    False Alarms Per Hour Should Be At Most    0

Slow Drift Raises No Alarm
    [Tags]    long
    Load Scenario    ${SCENARIOS}/drift.yaml
    Run Scenario
    Scenario Should Pass
    Accuracy Should Be At Least    0.95
    False Alarms Per Hour Should Be At Most    0

Fits The Board And Its Deadline
    Load Scenario    ${SCENARIOS}/normal.yaml
    Run Scenario
    Worst Case Inference Should Be Within    1 ms
    Flash Usage Should Be Below    64 KiB
    RAM Usage Should Be Below    48 KiB
    Stack High Water Mark Should Be Below    2 KiB
