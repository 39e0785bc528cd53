// Why: Swift's Glibc module does not export epoll and eventfd, which the Modbus/TCP reactor waits with.
#include <sys/epoll.h>
#include <sys/eventfd.h>
