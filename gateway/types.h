/* gateway/types.h -- small enums shared by the config, the store and the
 * issuer, defined once so every header can include them. */
#pragma once

/* Mobile ID types (DESIGN.md section 4). */
enum mid_cred_type { MID_CRED_REUSABLE = 1, MID_CRED_SINGLE_ISSUE = 2 };
