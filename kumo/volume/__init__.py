"""Block storage: Cinder v3 (``/volume/v3/{project_id}``) over pluggable volume drivers.

Layout: ``http/`` parses, authorizes (``policies``) and renders; ``volumes``,
``snapshots``, ``types``, ``actions`` and ``quota`` are the service logic;
``worker`` drives a ``driver`` (``drivers/loop.py`` on the local backend,
``drivers/simulated.py`` otherwise) off the request path; ``internal`` is what
Nova calls (attach, detach, boot from volume).

Microversions: 3.0 only (min = max = 3.0; ``OpenStack-API-Version: volume
3.0`` or ``latest`` is accepted and echoed, anything else is 406). Everything
Tempest's volume schemas validate is served at 3.0.

Statuses: creating → available; available → attaching → in-use → detaching →
available; available → extending → available; available → uploading →
available; → deleting → (gone); failures end in error, error_extending or
error_deleting. The worker resumes creating, deleting, extending and uploading
at start.
"""
