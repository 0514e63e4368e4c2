"""Service function chaining (the networking-sfc API): service logic per resource."""
