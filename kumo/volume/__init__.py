"""Block storage: Cinder v3 (``/volume/v3/{project_id}``) over pluggable volume drivers.

Layout: ``http/`` parses, authorizes (``policies``) and renders; ``volumes``,
``snapshots``, ``attachments``, ``types``, ``default_types``, ``actions``,
``filtering`` and ``quota`` are the service logic;
``worker`` drives a ``driver`` (``drivers/loop.py`` on the local backend,
``drivers/simulated.py`` otherwise) off the request path; ``internal`` is what
Nova calls (attach, detach, boot from volume).

Microversions: 3.0 to 3.71 (``http/common.py`` negotiates; ``OpenStack-API-Version: volume 3.x``, the
legacy bare ``3.x`` or ``latest``; 406 out of range, 400 malformed; echoed with ``Vary``). What each
version changes where Kumo has the resource: volume fields (3.13 group_id, 3.21 provider_id, 3.48
shared_targets/service_uuid, 3.61 cluster_name, 3.63 volume_type_id, 3.65 consumes_quota), snapshot
fields (3.14, 3.41 user_id, 3.65), ``volumes/summary`` (3.12, 3.36), list filters (``filtering.py``),
metadata ETags (3.15), ``?force`` delete (3.23), the attachments API (3.27, 3.44, 3.54:
``attachments.py``), ``resource_filters`` (3.33), revert to snapshot (3.40), in-use extend (3.42),
``with_count`` (3.45), snapshots of in-use volumes without force (3.66), URLs without the project
(3.67), default types (3.62: ``default_types.py``), re-image (3.68), the extend completion (3.71:
refused, nothing ever waits on Nova here). Backups, groups, messages, transfers, clusters and services
are not built: their URLs answer Cinder's 404 for an unknown resource.

Statuses: creating → available; available → attaching → in-use → detaching →
available (the attachments API: available → reserved → attaching → in-use);
available or in-use → extending → back; available → uploading → available;
available → reverting → available; available/error/reserved → downloading
(re-image) → available/reserved; → deleting → (gone); failures end in error,
error_extending or error_deleting. The worker resumes creating, deleting,
extending, uploading, reverting and downloading at start.
"""
