"""Request and response shapes for logins and users."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates_schema

from ..inputs import mobile_field
from ..schemas import Id, PageArgs, StrictSchema, Text
from .models import COUNCILS, ROLES


class LoginSchema(StrictSchema):
    username = Text(64, 1, required=True)
    password = Text(128, 1, required=True)
    # The second proof past the account's daily bound of failed logins: the code on the household card.
    card_code = Text(12)


class LogoutSchema(StrictSchema):
    refresh_token = Text(4096)


class MeSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    display_name = fields.String()
    village_id = fields.Integer(allow_none=True)
    shop_id = fields.Integer(allow_none=True)
    household_id = fields.Integer(allow_none=True)
    member_id = fields.Integer(allow_none=True)
    councils = fields.List(fields.String())
    active = fields.Boolean()
    region_id = fields.Integer(allow_none=True, metadata={"description": "a supervisor's county or township"})


class TokenPairSchema(StrictSchema):
    access_token = fields.String()
    refresh_token = fields.String()
    user = fields.Nested(MeSchema)


class AccessTokenSchema(StrictSchema):
    access_token = fields.String()


class UserCreateSchema(StrictSchema):
    username = Text(64, 3, required=True)
    password = Text(128, 6, required=True, load_only=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    village_id = Id(allow_none=True)
    councils = fields.List(fields.String(validate=validate.OneOf(COUNCILS)), validate=validate.Length(max=6))
    shop_id = Id(allow_none=True)
    member_id = Id(allow_none=True)
    display_name = Text(100)
    region_id = Id(
        allow_none=True, metadata={"description": "a supervisor's county or township (required for one)"}
    )


class UserUpdateSchema(StrictSchema):
    active = fields.Boolean(truthy={True}, falsy={False})
    password = Text(128, 6, load_only=True)
    councils = fields.List(fields.String(validate=validate.OneOf(COUNCILS)), validate=validate.Length(max=6))
    display_name = Text(100)


class UserQuerySchema(PageArgs):
    village_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))


class UserPageSchema(StrictSchema):
    items = fields.List(fields.Nested(MeSchema))
    total = fields.Integer()
    page = fields.Integer()


class ActivateSchema(StrictSchema):
    """A villager's first sign-in: the roster's phone number, a new PIN and one proof."""

    phone = mobile_field(required=True)
    pin = Text(128, 6, required=True, load_only=True)
    card_code = Text(12, 1)
    id_last6 = Text(6, 6)
    activation_code = Text(16, 1)

    @validates_schema
    def _one_proof(self, data, **_kwargs) -> None:
        given = [name for name in ("card_code", "id_last6", "activation_code") if data.get(name)]
        if len(given) != 1:
            message = _l("Give one proof: the card code, the ID number's last six, or an activation code.")
            raise ValidationError(message, "card_code")


class ActivationCodeSchema(StrictSchema):
    code = fields.String()
    expires_at = fields.DateTime()
