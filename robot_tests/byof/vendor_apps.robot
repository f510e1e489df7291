*** Settings ***
Documentation       A TFLM application and a CubeMX-style HAL application, built the way their vendors document, run
...                 without changing a line of their code: ``--variable TFLM_ELF:path`` / ``--variable HAL_ELF:path``
...                 (or $TFLM_ELF / $HAL_ELF). Each test skips with the reason when its ELF is not given.
Library             tinyml_cosim.robot
Suite Setup         Skip If Engine Unavailable
Test Tags           byof    vendor


*** Variables ***
${TFLM_ELF}         %{TFLM_ELF=}
${HAL_ELF}          %{HAL_ELF=}


*** Test Cases ***
TFLM Hello World Predicts The Sine And Exits
    Skip If    not $TFLM_ELF    TFLM_ELF not given (docs/byof.md: build TFLM's hello_world with its own Makefile)
    Start Board    firmware=${TFLM_ELF}
    Run Firmware Until Exit    within=1 s    measure=tflite::MicroInterpreter::Invoke()
    Exit Code Should Be    0
    Console Should Contain    sin(3140/1000)
    Measured Function Should Be Within    tflite::MicroInterpreter::Invoke()    0.5 ms
    Flash Usage Should Be Below    128 KiB

HAL Clock Set-up Is Named As The Reason On QEMU
    Skip If    not $HAL_ELF    HAL_ELF not given (docs/byof.md: a CubeMX project with HSE + PLL to 168 MHz)
    Start Board    firmware=${HAL_ELF}
    Run Keyword And Expect Error    *status hang*Error_Handler*RCC_CR*SystemClock_Config*
    ...    Run Firmware Until Exit    within=10 s
    Flash Usage Should Be Below    64 KiB
