"""The Cortex-M cycle model's static part (issue 15): instruction timings from Arm's TRMs, an ELF's code decoded into
per-instruction costs, the cost table the QEMU cycles plugin reads, the board's flash/ART parameters, and the
arithmetic that turns the plugin's profile into a cycle estimate.

Estimated cycles sit beside the simulated time (t = instructions / f_clk) and never move it. Modules are imported
one by one (capstone and numpy are loaded only by the modules that need them).
"""
