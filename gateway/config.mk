# gateway/config.mk
