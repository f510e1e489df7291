# The build of a vendor-way test firmware, shared: the toolchain, the Cortex-M4F flags, the start-up
# (common/startup.c) and the compile and link rules. A firmware's Makefile sets, then includes this file:
#   NAME     the ELF's name ($(OUT)/$(NAME).elf, $(OUT)/$(NAME).map)
#   SRCS     its own C sources, in link order after the start-up (default main.c)
#   OPT      the optimisation level (default -O2)
#   DEFS     its -D options (may also come from the make command line)
#   SPECS    what it links with (default --specs=rdimon.specs, newlib's semihosting)
#   STARTUP  newlib (default: SystemInit, static constructors, exit(main())) or bare (main(), then a loop)
#   LDSCRIPT its own linker script (default stm32f405.ld, in its folder)
# (bare.mk sets the defaults of a bare firmware: -O1, -nostartfiles --specs=nosys.specs, STARTUP bare.)
# `make OUT=dir` writes dir/$(NAME).elf.
FOREIGN_COMMON ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
OUT ?= build
LDSCRIPT ?= stm32f405.ld
SRCS ?= main.c
OPT ?= -O2
SPECS ?= --specs=rdimon.specs
STARTUP ?= newlib
STARTUP_NEWLIB := $(if $(filter newlib,$(STARTUP)),1,0)

CC := arm-none-eabi-gcc
CPU := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
CFLAGS := $(CPU) $(OPT) -g -Wall -Wextra -Werror -ffunction-sections -fdata-sections $(DEFS)
LDFLAGS := $(CPU) -T $(LDSCRIPT) $(SPECS) -Wl,--gc-sections -Wl,-Map=$(OUT)/$(NAME).map
OBJS := $(OUT)/startup.o $(SRCS:%.c=$(OUT)/%.o)

$(OUT)/$(NAME).elf: $(OBJS) $(LDSCRIPT)
	$(CC) $(LDFLAGS) $(OBJS) -o $@

$(OUT)/startup.o: $(FOREIGN_COMMON)/startup.c $(MAKEFILE_LIST) | $(OUT)
	$(CC) $(CFLAGS) -DSTARTUP_NEWLIB=$(STARTUP_NEWLIB) -c $< -o $@

$(OUT)/%.o: %.c $(MAKEFILE_LIST) | $(OUT)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT):
	mkdir -p $@

clean:
	rm -rf $(OUT)

.PHONY: clean
