/* gateway/ctl_sync.c -- mobileidctl's sync commands (placeholder until they land). */
#include <config.h>
#include "gateway/ctl.h"

const ctl_group_t ctl_group_sync = { NULL, 0 };
