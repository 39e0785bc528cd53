/* A hung driver call, injected from the test side: preloaded into synxd (LD_PRELOAD), connect() to the TCP
 * port named by SYNX_STALL_CONNECT_PORT never returns, so the thread that makes it (the TCP reactor) hangs
 * as it would in a driver call that never comes back. Every other connect() is passed through to libc.
 * Build: clang -shared -fPIC -o stall_connect.so stall_connect.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int connect(int fd, const struct sockaddr *address, socklen_t length) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    const char *port = getenv("SYNX_STALL_CONNECT_PORT");
    if (port && address && address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)
        && ntohs(((const struct sockaddr_in *)address)->sin_port) == atoi(port)) {
        for (;;) sleep(3600);
    }
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    return real(fd, address, length);
}
