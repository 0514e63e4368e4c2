"""Identity: Keystone v3."""
