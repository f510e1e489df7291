/* Tries every semihosting call that reaches the host's files or shell, and prints each answer on the console:
 *   open-write <r>    SYS_OPEN of <dir>/created for writing (then SYS_WRITE and SYS_CLOSE when it opened)
 *   open-read <r> <text>  SYS_OPEN of <dir>/secret for reading; <text>: what SYS_READ returned
 *   remove <r>        SYS_REMOVE of <dir>/victim
 *   rename <r>        SYS_RENAME of <dir>/victim2 to <dir>/renamed
 *   system <r>        SYS_SYSTEM("touch <dir>/system-marker") (printed only if the host survives the call)
 * then exits with 0 through newlib's exit (SYS_EXIT). <dir> is the HOSTILE_DIR buffer: a placeholder the test
 * replaces in the ELF with a directory of its own, outside the run's directory. */
#include <stdio.h>
#include <string.h>

extern void initialise_monitor_handles(void);

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_REMOVE 0x0E
#define SYS_RENAME 0x0F
#define SYS_SYSTEM 0x12
#define MODE_R 0 /* fopen "r" */
#define MODE_W 4 /* fopen "w" */

/* 200 bytes, NUL-padded by the test: the marker must be found verbatim in the ELF's .data image. */
char HOSTILE_DIR[200] = "@@COSIM-HOSTILE-DIR@@";

static int semihost(int op, const void *args)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = args;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static const char *in_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", HOSTILE_DIR, name);
    return buf;
}

int main(void)
{
    char path[256], other[256], cmd[300], text[65];
    initialise_monitor_handles();

    in_dir(path, sizeof path, "created");
    unsigned open_w[3] = {(unsigned)path, MODE_W, strlen(path)};
    int fd = semihost(SYS_OPEN, open_w);
    printf("hostile: open-write %d\n", fd);
    if (fd != -1) {
        unsigned write[3] = {(unsigned)fd, (unsigned)"pwned\n", 6};
        semihost(SYS_WRITE, write);
        semihost(SYS_CLOSE, &fd);
    }

    in_dir(path, sizeof path, "secret");
    unsigned open_r[3] = {(unsigned)path, MODE_R, strlen(path)};
    fd = semihost(SYS_OPEN, open_r);
    memset(text, 0, sizeof text);
    if (fd != -1) {
        unsigned read[3] = {(unsigned)fd, (unsigned)text, sizeof text - 1};
        semihost(SYS_READ, read);
        semihost(SYS_CLOSE, &fd);
        for (char *c = text; *c; c++) {
            if (*c == '\n') {
                *c = ' ';
            }
        }
    }
    printf("hostile: open-read %d %s\n", fd, text);

    in_dir(path, sizeof path, "victim");
    unsigned remove[2] = {(unsigned)path, strlen(path)};
    printf("hostile: remove %d\n", semihost(SYS_REMOVE, remove));

    in_dir(path, sizeof path, "victim2");
    in_dir(other, sizeof other, "renamed");
    unsigned rename[4] = {(unsigned)path, strlen(path), (unsigned)other, strlen(other)};
    printf("hostile: rename %d\n", semihost(SYS_RENAME, rename));

    snprintf(cmd, sizeof cmd, "touch %s/system-marker", HOSTILE_DIR);
    unsigned system[2] = {(unsigned)cmd, strlen(cmd)};
    printf("hostile: system %d\n", semihost(SYS_SYSTEM, system));
    return 0;
}
