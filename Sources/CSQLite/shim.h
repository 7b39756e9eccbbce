// SQLite 3 from the system (Debian's libsqlite3-dev): the row-per-node persistence peer that
// FlowBenchKit measures beside the FlatBuffers journal. Not a dependency of FlowOrchestrator.
#include <sqlite3.h>
