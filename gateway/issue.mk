# gateway/issue.mk: issuance (owned by the issuance engineer)
