#include "FBSchema.h"
extern "C" uint32_t fbs_format_version(void) { return FBS_FORMAT_VERSION; }
