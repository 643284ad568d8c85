# connectors/null/local.mk
