/* syscalls.c — as CubeIDE generates it (abridged): _write through __io_putchar. */
#include <errno.h>
#include <sys/stat.h>
extern int __io_putchar(int ch) __attribute__((weak));
int _write(int file, char *ptr, int len)
{
  (void)file;
  for (int i = 0; i < len; i++) { __io_putchar(*ptr++); }
  return len;
}
int _close(int file) { (void)file; return -1; }
int _fstat(int file, struct stat *st) { (void)file; st->st_mode = S_IFCHR; return 0; }
int _isatty(int file) { (void)file; return 1; }
int _lseek(int file, int ptr, int dir) { (void)file; (void)ptr; (void)dir; return 0; }
int _read(int file, char *ptr, int len) { (void)file; (void)ptr; (void)len; return 0; }
