"""Administration of stored records, shared by the CLI and the admin API.

One service per record kind (clients, resources, users, keys); the CLI and
the HTTP endpoints are thin layers over them, so both change the same records
in the same way and refuse the same things with the same messages.
"""
