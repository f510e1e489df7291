# The benchmarks are Thumb-2 assembly (bench.S): build the app's .S files too, with the same flags as C (the
# preprocessor runs on .S, so comments and macros work as in C).
override APP_SRCS := $(wildcard $(APP_DIR)/*.c) $(wildcard $(APP_DIR)/*.S)
override OBJS = $(patsubst %.S,$(OUT)/obj/%.o,$(patsubst %.c,$(OUT)/obj/%.o,$(SRCS)))

$(OUT)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(BOARD_CFLAGS) -g -c $< -o $@
