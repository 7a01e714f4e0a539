"""Response shapes of the public checkpoint endpoints (documented in the OpenAPI document)."""

from __future__ import annotations

from marshmallow import Schema, fields


class PublicKeySchema(Schema):
    ed25519_public_key = fields.String(metadata={"description": "base64 of the 32 raw bytes"})


class PublicVillageSchema(Schema):
    code = fields.String()
    name = fields.String()


class PublicVillageListSchema(Schema):
    items = fields.List(fields.Nested(PublicVillageSchema))


class CheckpointSchema(Schema):
    village_code = fields.String()
    seq = fields.Integer()
    hash = fields.String(metadata={"description": "lowercase hex SHA-256 of the chain head at seq"})
    at = fields.String(metadata={"description": "ISO 8601 with offset, exactly as signed"})
    signature = fields.String(
        metadata={"description": 'base64 Ed25519 over the UTF-8 of "{village_code}|{seq}|{hash}|{at}"'}
    )


class CheckpointListSchema(Schema):
    items = fields.List(fields.Nested(CheckpointSchema))
