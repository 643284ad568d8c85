# gateway/store.mk
