# A "foreign" firmware: its own vector table and start-up, no cosim.h, a vendor-style `b .` fault handler.
FOREIGN := 1
override LDSCRIPT := $(APP_DIR)/foreign.ld
