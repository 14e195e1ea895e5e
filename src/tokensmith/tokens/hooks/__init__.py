"""Custom-claims hooks (the Logto model): callable, webhook and stored-script sources."""
