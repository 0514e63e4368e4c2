"""The JSON schemas Glance v2 publishes under ``/v2/schemas/…``; ``IMAGE`` also validates every change."""

from __future__ import annotations

import copy

UUID_PATTERN = ("^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$")

CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
STATUSES = ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete",
            "deactivated"]
VISIBILITIES = ["community", "public", "private", "shared"]
MEMBER_STATUSES = ["pending", "accepted", "rejected"]

# the attributes every image has (Glance's "base" properties); anything else is an extra property
READ_ONLY = {"id", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "created_at",
             "updated_at", "direct_url", "self", "file", "schema", "stores"}
RESERVED = {"location", "deleted", "deleted_at", "locations"}
RESERVED_PREFIX = "os_glance"

INT32 = 2 ** 31 - 1

_BASE = {
    "id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
    "name": {"type": ["null", "string"], "description": "Descriptive name for the image", "maxLength": 255},
    "status": {"type": "string", "readOnly": True, "description": "Status of the image", "enum": STATUSES},
    "visibility": {"type": "string", "description": "Scope of image accessibility", "enum": VISIBILITIES},
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list "
                                                    "response."},
    "checksum": {"type": ["null", "string"], "readOnly": True, "maxLength": 32,
                 "description": "md5 hash of image contents."},
    "os_hash_algo": {"type": ["null", "string"], "readOnly": True, "maxLength": 64,
                     "description": "Algorithm to calculate the os_hash_value"},
    "os_hash_value": {"type": ["null", "string"], "readOnly": True, "maxLength": 128,
                      "description": "Hexdigest of the image contents using the algorithm specified by the "
                                     "os_hash_algo"},
    "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"},
    "size": {"type": ["null", "integer"], "readOnly": True, "description": "Size of image file in bytes"},
    "virtual_size": {"type": ["null", "integer"], "readOnly": True, "description": "Virtual size of image in "
                                                                                    "bytes"},
    "container_format": {"type": ["null", "string"], "enum": [None] + CONTAINER_FORMATS,
                         "description": "Format of the container"},
    "disk_format": {"type": ["null", "string"], "enum": [None] + DISK_FORMATS,
                    "description": "Format of the disk"},
    "created_at": {"type": "string", "readOnly": True, "description": "Date and time of image registration"},
    "updated_at": {"type": "string", "readOnly": True, "description": "Date and time of the last image "
                                                                      "modification"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
             "description": "List of strings related to the image"},
    "direct_url": {"type": "string", "readOnly": True, "description": "URL to access the image file kept in "
                                                                      "external store"},
    "min_ram": {"type": "integer", "minimum": 0, "maximum": INT32,
                "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {"type": "integer", "minimum": 0, "maximum": INT32,
                 "description": "Amount of disk space (in GB) required to boot image."},
    "self": {"type": "string", "readOnly": True, "description": "An image self url"},
    "file": {"type": "string", "readOnly": True, "description": "An image file url"},
    "stores": {"type": "string", "readOnly": True, "description": "Store in which image data resides."},
    "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
    "locations": {"type": "array", "description": "A set of URLs to access the image file kept in external "
                                                  "store",
                  "items": {"type": "object", "required": ["url", "metadata"],
                            "properties": {"url": {"type": "string", "maxLength": 255},
                                           "metadata": {"type": "object"},
                                           "validation_data": {"type": "object"}}}},
}

# well-known extra properties Glance documents in its schema (not base: "is_base": false)
_COMMON = {
    "kernel_id": {"type": ["null", "string"], "pattern": UUID_PATTERN,
                  "description": "ID of image stored in Glance that should be used as the kernel when booting "
                                 "an AMI-style image."},
    "ramdisk_id": {"type": ["null", "string"], "pattern": UUID_PATTERN,
                   "description": "ID of image stored in Glance that should be used as the ramdisk when "
                                  "booting an AMI-style image."},
    "instance_uuid": {"type": "string", "description": "Metadata which can be used to record which instance "
                                                       "this image is associated with."},
    "architecture": {"type": "string", "description": "Operating system architecture"},
    "os_distro": {"type": "string", "description": "Common name of operating system distribution"},
    "os_version": {"type": "string", "description": "Operating system version as specified by the "
                                                    "distributor"},
    "description": {"type": "string", "description": "A human-readable string describing this image."},
    "cinder_encryption_key_id": {"type": "string", "description": "Identifier in the OpenStack Key "
                                                                  "Management Service for the encryption key"},
    "cinder_encryption_key_deletion_policy": {"type": "string", "enum": ["on_image_deletion", "do_not_delete"],
                                              "description": "States the condition under which the Image "
                                                             "Service will delete the object associated with "
                                                             "the 'cinder_encryption_key_id' image property."},
}
for _prop in _COMMON.values():
    _prop["is_base"] = False

IMAGE = {
    "name": "image",
    "properties": {**_BASE, **_COMMON},
    "additionalProperties": {"type": "string"},
    "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
              {"rel": "describedby", "href": "{schema}"}],
}

IMAGES = {
    "name": "images",
    "properties": {"images": {"type": "array", "items": IMAGE},
                   "schema": {"type": "string"}, "first": {"type": "string"}, "next": {"type": "string"}},
    "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
              {"rel": "describedby", "href": "{schema}"}],
}

MEMBER = {
    "name": "member",
    "properties": {
        "created_at": {"type": "string", "description": "Date and time of image member creation"},
        "image_id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
        "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
        "schema": {"type": "string", "readOnly": True},
        "status": {"type": "string", "description": "The status of this image member", "enum": MEMBER_STATUSES},
        "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
    },
}

MEMBERS = {
    "name": "members",
    "properties": {"members": {"type": "array", "items": MEMBER}, "schema": {"type": "string"}},
    "links": [{"rel": "describedby", "href": "{schema}"}],
}

PUBLISHED = {"image": IMAGE, "images": IMAGES, "member": MEMBER, "members": MEMBERS}

# what a whole image must satisfy after a create or an update (read-only fields are checked apart)
VALIDATOR = copy.deepcopy({"type": "object", "properties": IMAGE["properties"],
                           "additionalProperties": IMAGE["additionalProperties"]})
