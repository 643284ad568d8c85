/* gateway/ctl_issue.c -- mobileidctl's issue commands (placeholder until they land). */
#include <config.h>
#include "gateway/ctl.h"

const ctl_group_t ctl_group_issue = { NULL, 0 };
