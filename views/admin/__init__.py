"""Admin screens: users, roles, the permission matrix."""
