*** Settings ***
Documentation       Plain firmware ELFs built the vendor way (own start-up, linker script and Makefile; no cosim.h):
...                 exit codes, faults, console lines and UART input, on the engine from ${ENGINE} (default QEMU).
Library             tinyml_cosim.robot
Library             ${CURDIR}/vendor_firmware.py
Suite Setup         Skip If Engine Unavailable
Test Tags           fast    byof


*** Test Cases ***
Semihosting Printf Exits With Zero
    ${elf}=    Build Vendor Firmware    semihosting_printf
    Start Board    firmware=${elf}
    ${code}=    Run Firmware Until Exit    within=100 ms
    Should Be Equal As Integers    ${code}    0
    Exit Code Should Be    0

Exit Code Is The Firmware's Own
    ${elf}=    Build Vendor Firmware    semihosting_printf    EXIT_CODE=3
    Start Board    firmware=${elf}
    Run Firmware Until Exit    within=100 ms
    Exit Code Should Be    3
    Run Keyword And Expect Error    Exit code of semihosting_printf.elf * was 3, expected 0 *
    ...    Exit Code Should Be    0

Semihosting Output Reaches The Console
    ${elf}=    Build Vendor Firmware    semihosting_printf
    Start Board    firmware=${elf}
    Run Firmware Until Exit    within=100 ms
    Console Should Contain    semihosting_printf: line 3 of 3

UART Input Is Echoed
    ${elf}=    Build Vendor Firmware    uart_echo
    Start Board    firmware=${elf}
    Wait For Console Line    ^uart_echo: ready$    within=1 ms
    Write To UART    hello\n
    ${line}=    Wait For Console Line    ^echo:    within=1 ms
    Should Be Equal    ${line}    echo: hello
    Write To UART    exit 7\n
    Run Firmware Until Exit    within=10 ms
    Exit Code Should Be    7

Fault Kind And Function
    ${elf}=    Build Vendor Firmware    uart_echo
    Start Board    firmware=${elf}
    Wait For Console Line    ready    within=1 ms
    Write To UART    crash\n
    Run Firmware Until Exit    within=10 ms
    Fault Should Be    HardFault    function=crash_now
    Fault Should Be    UsageFault
    Run Keyword And Expect Error    Fault of uart_echo.elf * expected BusFault*
    ...    Fault Should Be    BusFault

A Firmware That Does Not Exit Fails With Its Diagnosis
    ${elf}=    Build Vendor Firmware    uart_echo
    Start Board    firmware=${elf}
    Run Keyword And Expect Error    Firmware uart_echo.elf * ended with status * expected it to exit within 1 ms*
    ...    Run Firmware Until Exit    within=1 ms

Measured Function Within Its Limit
    ${elf}=    Build Vendor Firmware    semihosting_printf
    Start Board    firmware=${elf}
    Run Firmware Until Exit    within=100 ms    measure=main
    ${worst}=    Measured Function Should Be Within    main    1 ms
    Should Be True    ${worst} > 100
    Run Keyword And Expect Error    Measured function main: worst call * instructions * exceeds 100 instructions *
    ...    Measured Function Should Be Within    main    100 instructions
    Run Keyword And Expect Error    Measured function printf: no calls in the last run * measured: main*
    ...    Measured Function Should Be Within    printf    1 ms
