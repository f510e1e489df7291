# A bare vendor-way test firmware (no C library start files, nosys syscalls, start-up without static constructors
# or exit): the defaults rules.mk takes for it. A firmware's Makefile sets NAME (and what else it needs) and
# includes this file instead of rules.mk.
OPT ?= -O1
SPECS ?= -nostartfiles --specs=nosys.specs
STARTUP ?= bare
include $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/rules.mk
