// Why: SQLITE_TRANSIENT is a macro cast of -1 to a function pointer, which Swift cannot import.
#include <sqlite3.h>

static inline sqlite3_destructor_type synx_sqlite_transient(void) { return SQLITE_TRANSIENT; }
