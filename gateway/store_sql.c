/* gateway/store_sql.c -- the statement texts, indexed by enum mid_sq. */
#include "gateway/store_int.h"

const char *const mid_store_sql[MID_SQ_COUNT] = {
#define SQ(id, sql) [MID_SQ_##id] = sql,
#include "gateway/store_sql.h"
#undef SQ
};
