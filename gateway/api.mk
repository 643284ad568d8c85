# gateway/api.mk: the HTTP API (owned by the API engineer)
