# connectors/csv/local.mk
