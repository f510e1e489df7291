*** Settings ***
Documentation       tinyml_cosim.robot in one suite with Renode's own keywords, run by Renode's test runner (Renode 1.16;
...                 from the checkout, with Renode's bin directory on PATH):
...
...                 PYTHONPATH=robot_tests/renode/pythonpath renode-test --variable ENGINE:renode robot_tests/renode/shake_with_renode_keywords.robot
...
...                 (pythonpath/ lets Renode's Python import tinyml_cosim from the checkout's .venv; where tinyml-cosim
...                 is installed in the Python renode-test runs, leave PYTHONPATH out.)
...                 renode-test starts a Renode with its Robot server and adds its keyword file (\${RENODEKEYWORDS}):
...                 Execute Command, Create Terminal Tester, Wait For Line On Uart and the rest drive that Renode.
...                 tinyml_cosim.robot drives its own board on the engine of \${ENGINE} (scenario, sensors, faults, decisions,
...                 budgets). Scenario reports go to renode-test's results directory (\${RESULTS_DIRECTORY}, its -r option,
...                 by default the working directory), under cosim/. Outside renode-test (plain robot, pabot, make robot)
...                 the suite is skipped with the reason. See docs/robot.md, "Next to Renode's keywords".
Library             tinyml_cosim.robot    output_dir=${RESULTS_DIRECTORY}/cosim
Library             ${CURDIR}/cosim_renode_platform.py
Suite Setup         Start Renode Test Runner And Check The Engine
Suite Teardown      Stop Renode Test Runner
# renode-test gives a test without its own setup `Reset Emulation`; this suite's setup resets Renode and opens a board.
Test Setup          Run Keywords    Reset Emulation    AND    Start Board
# Renode's teardown (logs and snapshot on failure, reset); tinyml_cosim.robot stops its board at the end of every test itself.
Test Teardown       Test Teardown
Test Tags           renode-test    threshold_detector

*** Variables ***
${SCENARIO}             ${CURDIR}/../scenarios/shake.yaml
${UNDER_RENODE_TEST}    ${FALSE}
# renode-test sets it (its -r option); Robot's own output directory otherwise.
${RESULTS_DIRECTORY}    ${OUTPUT DIR}

*** Test Cases ***
Firmware Boots On The Board's Renode Platform
    [Documentation]    Renode's keywords only, on the firmware tinyml_cosim.robot built for the scenario's board: a plain
    ...                machine of the board's platform as the project's engine loads it (Renode's stock STM32F4
    ...                description corrected to the datasheet, offline), no host configuration, the console on USART1.
    Load Scenario    ${SCENARIO}
    ${elf}=    Firmware Path
    ${platform}=    Write Renode Platform Of The Board    ${RESULTS_DIRECTORY}/cosim
    Execute Command    mach create "board"
    Execute Command    machine LoadPlatformDescription @${platform}
    Execute Command    sysbus LoadELF @${elf}
    Create Terminal Tester    sysbus.usart1
    Start Emulation
    Wait For Line On Uart    BOOT app=threshold_detector

Detects Shaking And Fits Its Budgets
    [Documentation]    tinyml_cosim.robot's keywords: the scenario's sensors feed the firmware; decisions and budgets.
    Load Scenario    ${SCENARIO}
    ${t}=    Wait For Decision    shaking    within=3 s
    Should Be True    2.0 < ${t} <= 2.5
    Run Scenario
    Scenario Should Pass
    Worst Case Inference Should Be Within    1 ms
    RAM Usage Should Be Below    32 KiB

*** Keywords ***
Start Renode Test Runner And Check The Engine
    ${keywords}=    Get Variable Value    ${RENODEKEYWORDS}    ${NONE}
    ${reason}=    Catenate    needs Renode's test runner: renode-test --variable ENGINE:renode ${SUITE SOURCE}
    ...    (Renode 1.16); in a plain Robot Framework run Renode's keywords do not exist
    Skip If    $keywords is None    ${reason}
    Set Suite Variable    ${UNDER_RENODE_TEST}    ${TRUE}
    # renode-keywords.robot's suite setup: connects to renode-test's Renode and imports its keywords.
    Setup
    Skip If Engine Unavailable

Stop Renode Test Runner
    IF    ${UNDER_RENODE_TEST}    Teardown
