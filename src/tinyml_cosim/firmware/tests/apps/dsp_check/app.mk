override APP_SRCS := $(wildcard $(APP_DIR)/*.c) $(wildcard dsp/*.c)
override EXTRA_CFLAGS += -Idsp/include
