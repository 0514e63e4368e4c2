"""Glance v2: images, their data in a content-addressed store, tags, members; the busybox images.

``images`` (visibility, create, JSON-patch update, delete, tags, deactivate), ``listing`` (filters, sort,
marker pages), ``members``, ``data`` (upload/download and store consistency), ``store`` (the driver
interface and its filesystem implementation), ``internal`` (what compute and volume call), ``busybox``
(the two images registered on first start), ``schemas`` and ``policies``; HTTP handlers in ``http/``.
"""
