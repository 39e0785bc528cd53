// Why: Swift's Glibc module does not export epoll and eventfd, which the Modbus/TCP reactor waits with.
#include <sys/epoll.h>
#include <sys/eventfd.h>

// Why: struct ucred and SO_PEERCRED are only declared with _GNU_SOURCE, which Glibc's Swift module is not
// built with; this reads a Unix socket peer's credentials for the control server's permission check.
#include <sys/socket.h>
static inline int synx_peer_credentials(int fd, int *pid, unsigned *uid, unsigned *gid) {
    struct synx_ucred { int pid; unsigned uid; unsigned gid; } c;
    socklen_t length = sizeof c;
    int rc = getsockopt(fd, SOL_SOCKET, 17 /* SO_PEERCRED */, &c, &length);
    if (rc == 0) { *pid = c.pid; *uid = c.uid; *gid = c.gid; }
    return rc;
}

// Why: prctl(2) is variadic and pthread_setname_np needs _GNU_SOURCE; this names the calling thread (15 bytes
// at most) so /proc/PID/task/*/comm, top -H and the benchmarks can tell synx's threads apart.
#include <sys/prctl.h>
static inline void synx_name_this_thread(const char *name) { prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
