"""Request plumbing: hooks, CSRF, request guard, errors, headers, availability, health, top bar."""
