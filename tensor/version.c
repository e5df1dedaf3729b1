/* cgrad — the library's version: the one number in meson.build. */
#include "tensor_internal.h"
#include "cgrad_config.h"

const char *cg_version_string(void) { return CG_VERSION; }
