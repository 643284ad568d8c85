# reader/local.mk
