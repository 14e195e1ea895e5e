"""The admin API: JSON endpoints for operators, behind tokens with the admin scope."""
