"""End users: authentication against the user store, login throttling, passwords."""
