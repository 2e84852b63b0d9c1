/*
 * berth-helper: the in-workspace helper of Berth. See ../CONTRACT.md for the interface.
 *
 *   berth-helper fs <stat|list|read|write|mkdir|move|remove|tar-create|tar-extract> <root> ...
 *   berth-helper run [--background | --tty] [--pidfile <file>] [--env-file <file>] [--linger-ms <n>] -- <argv...>
 *   berth-helper kill --pidfile <file> [--signal <n>]
 *   berth-helper agent [--socket <path>] [--token-file <path>] [--interval-ms <n>] ... [-- <argv...>]
 *   berth-helper boot [--env-file <file>] [--egress-listen <ip:port> --egress-socket <path>
 *                     --egress-token-file <file> [--egress-pidfile <file>]] -- <argv...>
 *   berth-helper version
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* Makes sure fds 0-2 exist, so no file we open later lands on stdout or stderr by accident. */
static void ensure_std_fds(void) {
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) >= 0) continue;
    int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (n < 0) _exit(2);
    if (n != fd) { /* cannot happen: open returns the lowest free fd */
      dup2(n, fd);
      close(n);
    }
  }
}

int main(int argc, char **argv) {
  ensure_std_fds();
  if (argc < 2) die(ERR_USAGE, "usage: berth-helper <fs|run|kill|agent|boot|version> ...");
  const char *cmd = argv[1];
  if (strcmp(cmd, "version") == 0) {
    sink_str(&out, "berth-helper " HELPER_VERSION "\n");
    sink_flush(&out);
    return 0;
  }
  if (strcmp(cmd, "fs") == 0) {
    /* Modes given by Berth or by an archive are applied exactly, not filtered by the caller's
     * umask. (Only here: `run` leaves the umask to the command it starts.) */
    umask(0);
    /* A reader that goes away makes write(2) fail with EPIPE, so cleanups still run. */
    signal(SIGPIPE, SIG_IGN);
    int rc = cmd_fs(argc - 2, argv + 2);
    sink_flush(&out);
    return rc;
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "kill") == 0) return cmd_kill(argc - 2, argv + 2);
  if (strcmp(cmd, "agent") == 0) return cmd_agent(argc - 2, argv + 2);
  if (strcmp(cmd, "boot") == 0) return cmd_boot(argc, argv); /* the whole argv: see common.h */
  die(ERR_USAGE, "unknown command \"%.50s\"", cmd);
}
