*** Settings ***
Documentation       tinyml_cosim.robot in one suite with Renode's own keywords, run by Renode's test runner (Renode 1.16):
...
...                 PYTHONPATH=$PWD renode-test --variable ENGINE:renode robot_tests/renode/shake_with_renode_keywords.robot
...
...                 renode-test starts a Renode with its Robot server and adds its keyword file (\${RENODEKEYWORDS}):
...                 Execute Command, Create Terminal Tester, Wait For Line On Uart and the rest drive that Renode.
...                 tinyml_cosim.robot drives its own board on the engine of \${ENGINE} (scenario, sensors, faults, decisions,
...                 budgets). Outside renode-test (plain robot, pabot, make robot) the suite is skipped with the reason.
...                 See docs/robot.md, "Next to Renode's keywords".
Library             tinyml_cosim.robot
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

*** Test Cases ***
Firmware Boots On Renode's Stock STM32F4 Model
    [Documentation]    Renode's keywords only, on the firmware tinyml_cosim.robot built for the scenario's board: a plain
    ...                machine of Renode's own platform file, no host configuration, the console on USART1.
    Load Scenario    ${SCENARIO}
    ${elf}=    Firmware Path
    Execute Command    mach create "stock"
    Execute Command    machine LoadPlatformDescription @platforms/cpus/stm32f4.repl
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
