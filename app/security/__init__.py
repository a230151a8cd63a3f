"""Who may do what: the security manager, roles and access, sessions, lockout, rate limit, passwords."""
