"""Compute drivers: the one interface (``kumo.compute.driver.ComputeDriver``) and its backends."""
