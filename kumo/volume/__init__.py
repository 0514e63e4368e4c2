"""Block storage: Cinder v3 volumes, snapshots and types over pluggable volume drivers."""
