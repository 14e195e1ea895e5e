"""Building tokens (TokenService) and serialising them (TokenCreationService, formats)."""
