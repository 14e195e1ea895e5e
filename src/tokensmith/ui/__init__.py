"""Server-rendered pages (Jinja2): login, consent, logout, errors. No JavaScript needed."""
