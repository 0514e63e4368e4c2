"""Compute: Nova v2.1, mounted at ``/compute`` (catalog ``…/compute/v2.1``).

Microversions 2.1 to 2.38 (``kumo.compute.http.common.MAX_VERSION``): 2.2 key pair types, 2.3 extended
server attributes, 2.9 ``locked``, 2.10 key pairs of other users (admin), 2.16 ``host_status``,
2.19 descriptions, 2.26 tags, 2.28 ``cpu_info`` as an object, 2.33/2.35 hypervisor and key pair
pagination, 2.36 the network and image proxies gone (404), 2.37 ``networks`` required
(``auto``/``none``), 2.38 an unknown status filter is a 400.

Layout: ``servers`` (create/list/show/update/delete), ``server_actions`` (the actions' intents),
``manager`` (the ``compute.server`` worker: the state machine off the request path, and the start-up
reconcile), ``attachments`` (volumes, via ``kumo.volume.internal``), ``network`` (ports, via
``kumo.network.internal``), ``flavors``, ``keypairs``, ``limits`` (quotas over ``kumo.quotas``),
``instance_actions``, ``images`` (the /images proxy), ``drivers/`` (``simulated``; ``local``).
"""
