"""The browser side of the code flow: authorization requests, sessions, consent, CSRF."""
