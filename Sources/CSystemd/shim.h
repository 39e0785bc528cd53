// Why: sd_notifyf and sd_journal_send are variadic and cannot be called from Swift; synx uses
// sd_notify (a plain string) and sd_journal_sendv (an iovec array) only.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
