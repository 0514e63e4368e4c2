"""The HTTP layer shared by every service: routing, bodies, errors, request ids."""
