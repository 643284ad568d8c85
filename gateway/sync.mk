# gateway/sync.mk: sync engine (owned by the sync engineer)
